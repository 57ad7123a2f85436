"""The Helm part of the render stage: every chart, once per values set, rendered and mapped.

For each application chart (`render.charts.find_charts`) the values sets are: the chart's own
`values.yaml` alone, then each set the config's `render.charts` entries and the GitOps
resources (`render.gitops.uses`) name. Each set is one target, named like
`charts/reviews (values-prod.yaml)`. A render that fails is a failure at the place Helm names
(mapped to the repository file), or at the values file that could not be used; Helm missing is
a skipped entry with the install hint.

Renders are cached by the digest of the chart's files, the merged values, the release and the
namespace (and the engine's version), so a run that changes one values file renders one set.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
import re
from collections.abc import Iterable, Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import Any

from render import helm
from render.charts import Chart, ValuesSet, find_charts, values_file_layer
from render.gitops import ChartUse, uses
from render.helm_sourcemap import TemplateMap, ValuesLayer
from rules.core.config import Config
from rules.core.document import Document
from rules.core.loader import (
    ParseCache,
    Placement,
    SourceFile,
    load,
    parse_file,
    resources_of,
)
from rules.core.model import Skipped
from rules.core.targets import CHART_API, CHART_KIND, RenderFailure, Revision

RenderCache = MutableMapping[str, dict[str, Any]]
_CACHE_FORMAT = "helm-2"
_SEPARATOR = re.compile(r"^---(?=[ \t]|$)", re.M)


@dataclass(slots=True)
class ChartSpec:
    """A `render.charts` entry of the config: a chart and the values files to render it with."""

    path: str
    values: list[str] = field(default_factory=list)
    release: str | None = None
    namespace: str | None = None


@dataclass(slots=True)
class RenderedDocument:
    """One manifest of a rendered chart: its document (rendered text), and where its keys are
    in the repository (`source.locate(key_path)`)."""

    template: str
    document: Document
    source: TemplateMap


@dataclass(slots=True)
class ChartFailure:
    path: str
    line: int
    message: str


@dataclass(slots=True)
class ChartTarget:
    name: str
    chart: Chart
    values: ValuesSet
    documents: list[RenderedDocument] = field(default_factory=list)
    failure: ChartFailure | None = None
    skipped: list[tuple[str, str]] = field(default_factory=list)
    """Rendered templates that could not be read (too large, not YAML), with the reason."""
    key: str | None = None
    """The render's cache key (chart files, values, release, namespace): what it depends on."""


@dataclass(slots=True)
class HelmOutcome:
    targets: list[ChartTarget] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)


def render_charts(
    files: Mapping[str, bytes],
    engine: helm.HelmEngine | None,
    *,
    specs: Iterable[ChartSpec] = (),
    uses: Iterable[ChartUse] = (),
    cache: RenderCache | None = None,
    parse_cache: ParseCache | None = None,
) -> HelmOutcome:
    """Render every chart of `files` with each values set; `engine` None means Helm is off.

    `cache` keeps renders by chart and values; `parse_cache` (the loader's) keeps the parsed
    rendered manifests by their text, so an unchanged render is neither rendered nor parsed."""
    charts, skipped = find_charts(files)
    outcome = HelmOutcome(skipped=list(skipped))
    if not charts:
        return outcome
    if engine is None or not helm.available():
        outcome.skipped.extend((c.path or ".", f"Helm chart: {helm.INSTALL_HINT}") for c in charts)
        return outcome
    by_path = {c.path: c for c in charts}
    sets = [(chart, ValuesSet(None, [], chart.name, None)) for chart in charts]
    for spec in specs:
        named = by_path.get(posixpath.normpath(spec.path).strip("/").removeprefix("./"))
        if named is None:
            outcome.skipped.append((spec.path, "render.charts: no Chart.yaml in this folder"))
            continue
        sets.append((named, _config_set(named, spec, files)))
    for use in uses:
        used = by_path.get(use.chart)
        if used is not None:
            values = ValuesSet(use.label, list(use.layers), use.release, use.namespace)
            values.problems.extend(use.problems)
            sets.append((used, values))
    engine.spawn()
    defaults = {chart.path: _defaults(chart) for chart in charts}
    for chart, values in sets:
        target = _render(chart, values, engine, cache, defaults[chart.path], parse_cache)
        outcome.targets.append(target)
    return outcome


def _config_set(chart: Chart, spec: ChartSpec, files: Mapping[str, bytes]) -> ValuesSet:
    values = ValuesSet(
        ", ".join(posixpath.basename(v) for v in spec.values) or "config",
        [],
        spec.release or chart.name,
        spec.namespace,
    )
    for written in spec.values:
        inside = posixpath.normpath(posixpath.join(chart.path, written))
        path = inside if inside in files else posixpath.normpath(written)
        layer = values_file_layer(path, files.get(path))
        if isinstance(layer, ValuesLayer):
            values.layers.append(layer)
        else:
            values.problems.append(layer)
    return values


_DECORATION = re.compile(r"[\u2500-\u259f\u2600-\u27bf\ufe0f]+")


def _plain(message: str, limit: int = 200) -> str:
    """A chart's own error message without its banner (box drawing, emoji), on one line."""
    text = " ".join(_DECORATION.sub(" ", message).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def target_name(chart: Chart, values: ValuesSet) -> str:
    where = chart.path or "."
    return f"{where} ({values.label})" if values.label else where


def _render(
    chart: Chart,
    values: ValuesSet,
    engine: helm.HelmEngine,
    cache: RenderCache | None,
    defaults: list[ValuesLayer],
    parse_cache: ParseCache | None,
) -> ChartTarget:
    target = ChartTarget(target_name(chart, values), chart, values)
    if chart.problem is not None:
        target.failure = ChartFailure(
            _chart_file(chart), 1, f"Helm chart not rendered: {chart.problem}"
        )
        return target
    if values.problems:
        path, line, message = values.problems[0]
        target.failure = ChartFailure(path, line, message)
        return target
    merged = values.merged()
    namespace = values.namespace or "default"
    key = _cache_key(chart, merged, values.release, namespace)
    target.key = key
    answer = cache.get(key) if cache is not None else None
    if answer is None:
        result = engine.render(chart.name, chart.files, merged, values.release, namespace)
        if isinstance(result, helm.Rendered):
            answer = {"manifests": result.manifests}
        else:
            answer = {
                "failure": [result.kind, result.message, result.template, result.line],
            }
        if cache is not None and not (
            isinstance(result, helm.RenderFailure) and result.kind in ("engine", "timeout")
        ):
            cache[key] = answer
    if "failure" in answer:
        kind, message, template, line = answer["failure"]
        if kind == "engine":  # Helm could not run at all: not the chart's fault
            target.skipped.append((chart.path or ".", f"Helm chart: {message}"))
            return target
        if kind == helm.STOPPED and not values.merged():
            # The chart asks for values and the repository names none for it: it is deployed
            # with values held elsewhere (an installer, `--set`), not broken.
            target.skipped.append(
                (
                    chart.path or ".",
                    f"Helm chart: it needs values this repository does not give it "
                    f"({_plain(message)}); "
                    "name the values it is deployed with in render.charts to analyse it",
                )
            )
            return target
        source = chart.template_source(template) if template else None
        path = source[0] if source else _chart_file(chart)
        target.failure = ChartFailure(path, int(line or 1), f"Helm: {message}")
        return target
    layers = [*defaults, *values.layers]
    for template, text in sorted(answer["manifests"].items()):
        _add_documents(target, chart, template, text, layers, parse_cache)
    return target


def _add_documents(
    target: ChartTarget,
    chart: Chart,
    template: str,
    text: str,
    layers: list[ValuesLayer],
    parse_cache: ParseCache | None,
) -> None:
    if not text.strip() or posixpath.basename(template) == "NOTES.txt":
        return
    source = chart.template_source(template)
    shown, template_text = source if source else (_chart_file(chart), "")
    key = "helm:" + hashlib.sha256(f"{shown}\0{text}".encode()).hexdigest()
    parsed = parse_cache.get(key) if parse_cache is not None else None
    if parsed is None:
        parsed = parse_file(shown, text)
        if parse_cache is not None:
            parse_cache[key] = parsed
    if parsed.skipped:
        target.skipped.append((shown, f"rendered by {target.name}: {parsed.skipped}"))
        return
    starts = [text.count("\n", 0, m.start()) for m in _SEPARATOR.finditer(text)]
    for document in parsed.documents:
        body = document.body if isinstance(document.body, dict) else {}
        kind = body.get("kind") if isinstance(body.get("kind"), str) else None
        index = _index(starts, document.start_line)
        mapping = TemplateMap(shown, template_text, kind, index, layers)
        target.documents.append(RenderedDocument(shown, document, mapping))


def _index(starts: list[int], start_line: int) -> int:
    """Which document of the rendered text starts at `start_line` (0 for the first), counting
    the `---` separators before it, a leading one not counted."""
    separators = sum(1 for s in starts if s <= start_line)
    if starts and starts[0] == 0:
        return max(separators - 1, 0)
    return separators


def _defaults(chart: Chart) -> list[ValuesLayer]:
    data = chart.files.get("values.yaml")
    if data is None:
        return []
    layer = values_file_layer(chart.values_file, data)
    return [layer] if isinstance(layer, ValuesLayer) else []


def _chart_file(chart: Chart) -> str:
    return posixpath.join(chart.path, "Chart.yaml") if chart.path else "Chart.yaml"


def _cache_key(chart: Chart, values: dict[str, Any], release: str, namespace: str) -> str:
    text = json.dumps([_CACHE_FORMAT, values, release, namespace], sort_keys=True, default=str)
    return hashlib.sha256((chart.digest() + text).encode()).hexdigest()


def add_to(revision: Revision, outcome: HelmOutcome, config: Config) -> None:
    """The chart targets of `outcome` added to `revision`: each rendered resource with its
    target and a `TemplateMap` origin (namespace: its own, else the release's, else the
    config's), each failed render a `RenderFailure` (`render-failed` reports it, at the file and
    line Helm gave), each chart not rendered a skipped entry with the reason."""
    revision.skipped.extend(Skipped(path, reason) for path, reason in outcome.skipped)
    for target in outcome.targets:
        for path, reason in target.skipped:  # two values sets may skip a chart for one reason
            if Skipped(path, reason) not in revision.skipped:
                revision.skipped.append(Skipped(path, reason))
        revision.targets.append(target.name)
        if target.key is not None:
            revision.build_keys.append(target.key)
        if target.failure is not None:
            failure = target.failure
            revision.failures.append(
                RenderFailure(
                    target.name,
                    failure.path,
                    failure.line,
                    failure.message,
                    kind=CHART_KIND,
                    api_version=CHART_API,
                )
            )
            continue
        placement = Placement(config, target.name, target.values.namespace)
        for rendered in target.documents:
            for resource in resources_of(rendered.document, placement):
                resource.path = rendered.template
                resource.origin = rendered.source
                revision.rendered.append(resource)


def template_files(files: Iterable[str]) -> set[str]:
    """The files of chart `templates/` folders: rendered, never read as plain manifests."""
    charts = tuple(
        path[: -len("Chart.yaml")] for path in files if posixpath.basename(path) == "Chart.yaml"
    )
    return {
        path for path in files if charts and path.startswith(charts) and "/templates/" in f"/{path}"
    }


@dataclass(slots=True)
class ChartEngine:
    """What renders charts for `render.targets.render_revision`: the Helm engine (None: Helm is
    not installed) and the cache of renders by chart and values."""

    engine: helm.HelmEngine | None
    cache: RenderCache | None = None


def render_revision(
    files: list[SourceFile],
    config: Config,
    engine: helm.HelmEngine | None,
    cache: RenderCache | None,
    parse_cache: ParseCache | None,
) -> tuple[Revision | None, set[str]]:
    """A revision's charts rendered with every values set its files name, as a `Revision`
    holding only the chart targets (`render.targets.render_revision` merges it with the rest),
    and the chart templates' paths (rendered, so not to be read as plain manifests). None when
    the revision holds no chart, or the config says `render.helm: off` (templates are then plain
    files, skipped as before)."""
    data = {f.path: f.data.encode() if isinstance(f.data, str) else f.data for f in files}
    charts, _ = find_charts(data)
    if not charts and not any(posixpath.basename(p) == "Chart.yaml" for p in data):
        return None, set()
    settings = config.render
    if settings.helm == "off":
        return None, set()
    specs = [ChartSpec(c.path, list(c.values), c.release, c.namespace) for c in settings.charts]
    manifests = [f for f in files if config.wants(f.path)]
    gitops, _ = load(manifests, Placement(config), parse_cache)
    chart_uses, _ = uses(gitops, data, {c.path for c in charts})
    outcome = render_charts(
        data, engine, specs=specs, uses=chart_uses, cache=cache, parse_cache=parse_cache
    )
    revision = Revision()
    add_to(revision, outcome, config)
    return revision, template_files(data)
