"""Helm charts in a repository, and the values sets the repository renders them with.

A chart is a folder with `Chart.yaml`. Library charts (`type: library`) render nothing alone.
Subcharts vendored under a chart's `charts/` render with their parent, never alone; a declared
dependency that is not vendored is not fetched (listed as skipped, the parent still renders,
which is what `helm template` does without `helm dependency build` when the dependency is
switched off, and the closest offline answer when it is not).

Each application chart renders once with its own `values.yaml` ("charts/reviews"), and once
more per values set the repository names for it ("charts/reviews (values-prod.yaml)"): the
config's `render.charts`, Argo CD Applications and Flux HelmReleases (see `render.gitops`).
Values layers merge as Helm merges `-f` files and `--set`: mappings deep-merge, later layers win,
`null` removes a key.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from render.helm_sourcemap import ValuesLayer
from rules.core.document import Document

_INDEXED = re.compile(r"^(.*?)((?:\[\d+\])*)$", re.S)
MAX_CHART_BYTES = 8 * 1024 * 1024
"""A chart larger than this (all its files) is skipped: no application chart needs it."""


@dataclass(slots=True)
class Chart:
    """A chart folder: its files relative to the folder, and what its Chart.yaml says."""

    path: str
    name: str
    files: dict[str, bytes]
    metadata: dict[str, Any]
    subcharts: dict[str, str] = field(default_factory=dict)
    """Helm's name of each vendored subchart folder (`charts/<name>`) -> its folder in the chart."""
    missing: list[str] = field(default_factory=list)
    """Declared dependencies not vendored in `charts/`."""
    problem: str | None = None
    """Why the chart cannot be rendered before even trying (too large)."""

    @property
    def library(self) -> bool:
        return self.metadata.get("type") == "library"

    def digest(self) -> str:
        """Identifies the chart's content (its files), for the render cache."""
        sha = hashlib.sha256()
        for path in sorted(self.files):
            sha.update(path.encode() + b"\0" + hashlib.sha256(self.files[path]).digest())
        return sha.hexdigest()

    def template_source(self, helm_name: str) -> tuple[str, str] | None:
        """The repository path and text of a template Helm names `name/templates/x.yaml` or
        `name/charts/sub/templates/x.yaml`; None for one it cannot find (in a .tgz subchart)."""
        parts = helm_name.split("/")[1:]
        folder = ""
        while len(parts) > 2 and parts[0] == "charts":
            sub = self.subcharts.get(posixpath.join(folder, "charts", parts[1]))
            if sub is None:
                return None
            folder, parts = sub, parts[2:]
        relative = posixpath.join(folder, *parts)
        data = self.files.get(relative)
        if data is None:
            return None
        return (posixpath.join(self.path, relative) if self.path else relative, _text(data))

    @property
    def values_file(self) -> str:
        return posixpath.join(self.path, "values.yaml") if self.path else "values.yaml"


@dataclass(slots=True)
class ValuesSet:
    """One way the repository renders a chart: values layers, release name and namespace."""

    label: str | None
    """What tells this set apart in the target name ("values-prod.yaml", "Application x")."""
    layers: list[ValuesLayer]
    release: str
    namespace: str | None
    problems: list[tuple[str, int, str]] = field(default_factory=list)
    """Values that cannot be used: (path, line, message); the render is then a failure."""

    def merged(self) -> dict[str, Any]:
        merged: dict[str, Any] = {}
        for layer in self.layers:
            merged = merge_values(merged, layer.body)
        return merged

    def digest(self) -> str:
        text = json.dumps(
            [self.merged(), self.release, self.namespace], sort_keys=True, default=str
        )
        return hashlib.sha256(text.encode()).hexdigest()


def find_charts(files: Mapping[str, bytes]) -> tuple[list[Chart], list[tuple[str, str]]]:
    """Application charts, and (path, reason) for charts and dependencies left out."""
    roots = sorted(
        posixpath.dirname(p) for p in files if posixpath.basename(p) in ("Chart.yaml", "Chart.yml")
    )
    skipped: list[tuple[str, str]] = []
    charts: list[Chart] = []
    for root in roots:
        if _is_vendored(root, roots):
            continue
        chart = _load_chart(root, files)
        if chart.library:
            continue
        for dependency in chart.missing:
            skipped.append(
                (
                    posixpath.join(root, "charts", dependency),
                    f"Helm chart dependency '{dependency}' is not vendored in charts/ and is not "
                    "fetched; the chart renders without it (commit it with helm dependency build "
                    "to analyse it)",
                )
            )
        charts.append(chart)
    return charts, skipped


def _is_vendored(root: str, roots: list[str]) -> bool:
    """A chart inside another chart's `charts/` folder renders as that chart's subchart."""
    parts = root.split("/")
    return any(part == "charts" and "/".join(parts[:i]) in roots for i, part in enumerate(parts))


def _load_chart(root: str, files: Mapping[str, bytes]) -> Chart:
    prefix = f"{root}/" if root else ""
    own = {p[len(prefix) :]: data for p, data in files.items() if p.startswith(prefix)}
    metadata = _mapping(own.get("Chart.yaml") or own.get("Chart.yml"))
    name = str(metadata.get("name") or posixpath.basename(root) or "chart")
    chart = Chart(root, name, own, metadata)
    if sum(len(d) for d in own.values()) > MAX_CHART_BYTES:
        chart.problem = f"the chart's files are larger than {MAX_CHART_BYTES // (1024 * 1024)} MiB"
    _find_subcharts(chart, "")
    return chart


def _find_subcharts(chart: Chart, folder: str) -> None:
    """Map Helm's subchart names to folders, and note declared dependencies absent from disk."""
    base = posixpath.join(folder, "charts")
    metadata = (
        chart.metadata
        if not folder
        else _mapping(chart.files.get(posixpath.join(folder, "Chart.yaml")))
    )
    present: set[str] = set()
    subfolders = sorted(
        {
            posixpath.dirname(p)
            for p in chart.files
            if p.startswith(base + "/")
            and posixpath.basename(p) == "Chart.yaml"
            and posixpath.dirname(posixpath.dirname(p)) == base
        }
    )
    for sub in subfolders:
        sub_meta = _mapping(chart.files.get(posixpath.join(sub, "Chart.yaml")))
        sub_name = str(sub_meta.get("name") or posixpath.basename(sub))
        chart.subcharts[posixpath.join(folder, "charts", sub_name)] = sub
        present.add(sub_name)
        _find_subcharts(chart, sub)
    archives = [p for p in chart.files if p.startswith(base + "/") and p.endswith(".tgz")]
    for dependency in _list(metadata.get("dependencies")):
        if not isinstance(dependency, dict):
            continue
        dep_name = str(dependency.get("name") or "")
        if not dep_name or dep_name in present:
            continue
        if any(posixpath.basename(a).startswith(dep_name + "-") for a in archives):
            continue
        if not folder:
            chart.missing.append(dep_name)


def merge_values(base: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Helm's merge of user values: mappings merge key by key, anything else replaces."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge_values(merged[key], value)
        else:
            merged[key] = value
    return merged


def values_file_layer(path: str, data: bytes | None) -> ValuesLayer | tuple[str, int, str]:
    """A values file as a layer, or (path, line, message) when it cannot be one."""
    if data is None:
        return (path, 1, f"values file {path} is not in the repository")
    text = _text(data)
    try:
        body = yaml.load(text, Loader=yaml.CSafeLoader)
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else 1
        return (path, line, f"values file {path} is not valid YAML: {exc.problem}")
    except yaml.YAMLError:
        return (path, 1, f"values file {path} is not valid YAML")
    if body is None:
        body = {}
    if not isinstance(body, dict):
        return (path, 1, f"values file {path} must be a mapping, not a {type(body).__name__}")
    return ValuesLayer(path, body, Document(path, text, 0, body))


def set_parameter(values: dict[str, Any], name: str, value: Any, force_string: bool) -> None:
    """Apply one `--set name=value` (Argo CD `helm.parameters`) to `values`: dotted names, `\\.`
    for a literal dot, `[n]` list indices; values typed as Helm types them unless forced."""
    typed = value if force_string or not isinstance(value, str) else _typed(value)
    keys: list[str | int] = []
    for part in _split_name(name):
        head, indices = _INDEXED.match(part).groups()  # type: ignore[union-attr]
        if head:
            keys.append(head)
        keys.extend(int(i) for i in re.findall(r"\[(\d+)\]", indices))
    node: Any = values
    for key, following in zip(keys, [*keys[1:], None], strict=True):
        last = following is None
        if isinstance(key, int):
            if not isinstance(node, list):
                return
            while len(node) <= key:
                node.append(None)
            if last:
                node[key] = typed
            else:
                if not isinstance(node[key], dict | list):
                    node[key] = [] if isinstance(following, int) else {}
                node = node[key]
        else:
            if not isinstance(node, dict):
                return
            if last:
                node[key] = typed
            else:
                if not isinstance(node.get(key), dict | list):
                    node[key] = [] if isinstance(following, int) else {}
                node = node[key]


def _split_name(name: str) -> list[str]:
    parts, current, escaped = [], "", False
    for char in name:
        if escaped:
            current += char
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == ".":
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    return [p for p in parts if p]


def _typed(value: str) -> Any:
    if value in ("true", "false"):
        return value == "true"
    if value == "null":
        return None
    if value.lstrip("-").isdigit() and not (value.lstrip("-").startswith("0") and value != "0"):
        return int(value)
    return value


def chart_files_of(files: Iterable[str]) -> list[str]:
    """The folders that hold a Chart.yaml (what the file readers use to keep chart files)."""
    return sorted({posixpath.dirname(p) for p in files if posixpath.basename(p) == "Chart.yaml"})


def _mapping(data: bytes | None) -> dict[str, Any]:
    if data is None:
        return {}
    try:
        value = yaml.load(_text(data), Loader=yaml.CSafeLoader)
    except yaml.YAMLError:
        return {}
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _text(data: bytes | str) -> str:
    return data if isinstance(data, str) else data.decode("utf-8", "replace")
