"""Kustomizations of a snapshot: which folders are roots, what each one reads, what is unsafe.

Everything here reads the snapshot only; no tool runs. A kustomization root is a folder with
`kustomization.yaml`, `kustomization.yml` or `Kustomization` that no other kustomization of the
repository references (as a resource, base, component, generator or transformer). Its *inputs*
are every file it reads, its bases' included: the build's cache key is their content, and these
files are analysed only through the root, never as plain manifests.

Before a root is handed to a tool, its references are checked here, so that a tool never reaches
for the network or for files outside the snapshot: a URL or git reference is skipped (remote
bases are not fetched), a path out of the repository and a missing file are `render-failed` at
the kustomization line that names them, a `helmCharts:` entry is skipped (Helm is not run
inside Kustomize), and so is a kustomization that is itself invalid YAML (render-failed).
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

KUSTOMIZATION_NAMES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
DIRECTORY_FIELDS = ("resources", "bases", "components")
"""Entries that may name a folder holding another kustomization (a base or a component)."""
FILE_LIST_FIELDS = ("crds", "configurations", "transformers", "generators", "validators")
"""Lists of local files (transformer and generator lists may also name kustomization folders)."""
_REMOTE = re.compile(
    r"^(?:[a-z][a-z0-9+.-]*://|git@|git::|github\.com/|gitlab\.com/|bitbucket\.org/)", re.I
)


@dataclass(frozen=True, slots=True)
class Problem:
    """Why a root cannot be built: a `render-failed` finding or, when `skip`, a skipped target."""

    path: str
    line: int
    message: str
    skip: bool = False


@dataclass(slots=True)
class Kustomization:
    """One kustomization file, parsed, with the references it makes."""

    folder: str
    path: str
    data: dict[str, Any]
    lines: dict[tuple[str, int], int] = field(default_factory=dict)
    """(field, index) -> the 1-based line of that list entry, for messages that point at it."""
    error: Problem | None = None

    @property
    def is_component(self) -> bool:
        return self.data.get("kind") == "Component"

    @property
    def namespace(self) -> str | None:
        value = self.data.get("namespace")
        return value if isinstance(value, str) and value else None

    def line_of(self, key: str, index: int | None = None) -> int:
        return self.lines.get((key, -1 if index is None else index), self.lines.get((key, -1), 1))


@dataclass(slots=True)
class Root:
    """A kustomization root: its folder (the target's name), the files it reads, and why it
    cannot be built (None when it can)."""

    folder: str
    kustomization: Kustomization
    inputs: list[str]
    """Every file the build reads, kustomization files included, sorted."""
    patches: list[PatchSource]
    problem: Problem | None = None

    @property
    def name(self) -> str:
        return self.folder or "."


@dataclass(frozen=True, slots=True)
class PatchSource:
    """A patch a root applies: where its text is (a file, or inline in a kustomization), and
    which resources it targets (`target:` selector; None: the patch names its resource)."""

    path: str
    text: str
    first_line: int
    """1-based line of the file where `text` starts (1 for a patch file)."""
    json6902: bool
    target: Mapping[str, Any] | None


def find_kustomizations(
    paths: Iterable[str], read: Mapping[str, bytes | str]
) -> dict[str, Kustomization]:
    """Folder -> its kustomization, for every kustomization file of the snapshot."""
    found: dict[str, Kustomization] = {}
    for path in sorted(paths):
        folder, _, name = path.rpartition("/")
        if name in KUSTOMIZATION_NAMES and folder not in found:
            found[folder] = parse_kustomization(folder, path, read[path])
    return found


def parse_kustomization(folder: str, path: str, data: bytes | str) -> Kustomization:
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    try:
        node = yaml.compose(text, Loader=yaml.CSafeLoader)
        body = yaml.load(text, Loader=yaml.CSafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        problem = (exc.problem or exc.context or "invalid YAML").splitlines()[0]
        return Kustomization(
            folder, path, {}, error=Problem(path, line, f"invalid YAML: {problem}")
        )
    except yaml.YAMLError as exc:
        return Kustomization(folder, path, {}, error=Problem(path, 1, f"invalid YAML: {exc}"))
    if body is None:
        body = {}
    if not isinstance(body, dict):
        return Kustomization(
            folder, path, {}, error=Problem(path, 1, "a kustomization must be a YAML mapping")
        )
    return Kustomization(folder, path, body, _entry_lines(node))


def _entry_lines(node: Any) -> dict[tuple[str, int], int]:
    lines: dict[tuple[str, int], int] = {}
    if not isinstance(node, yaml.MappingNode):
        return lines
    for key, value in node.value:
        if not isinstance(key, yaml.ScalarNode):
            continue
        lines[(key.value, -1)] = key.start_mark.line + 1
        if isinstance(value, yaml.SequenceNode):
            for index, item in enumerate(value.value):
                lines[(key.value, index)] = item.start_mark.line + 1
    return lines


def is_remote(entry: str) -> bool:
    """A URL, a git reference or a `host/org/repo` path: kustomize would fetch it."""
    return bool(_REMOTE.match(entry)) or "?ref=" in entry or entry.startswith("//")


def _join(folder: str, entry: str) -> str | None:
    """The repository path `entry` names from `folder`; None when it leaves the repository."""
    if entry.startswith("/"):
        return None
    joined = (
        posixpath.normpath(posixpath.join(folder, entry)) if folder else posixpath.normpath(entry)
    )
    if joined == ".":
        return ""
    if joined.startswith("../") or joined == "..":
        return None
    return joined


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    return []


@dataclass
class Snapshot:
    """What the planner needs to know of the snapshot: its files, and its folders."""

    files: Mapping[str, bytes | str]
    folders: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        for path in self.files:
            parent = path.rpartition("/")[0]
            while parent not in self.folders:
                self.folders.add(parent)
                if not parent:
                    break
                parent = parent.rpartition("/")[0]


def plan_roots(snapshot: Snapshot, kustomizations: dict[str, Kustomization]) -> list[Root]:
    """Every kustomization root, with its inputs and the first reason it cannot be built."""
    referenced: set[str] = set()
    for kustomization in kustomizations.values():
        for _, _, target in _folder_references(kustomization):
            if target is not None and target in kustomizations and target != kustomization.folder:
                referenced.add(target)
    roots = []
    for folder, kustomization in sorted(kustomizations.items()):
        if folder in referenced or kustomization.is_component:
            continue
        roots.append(_plan(snapshot, kustomizations, kustomization))
    return roots


def _folder_references(k: Kustomization) -> Iterator[tuple[str, int, str | None]]:
    for key in (*DIRECTORY_FIELDS, "transformers", "generators", "validators"):
        for index, entry in enumerate(_strings(k.data.get(key))):
            if is_remote(entry):
                continue
            yield key, index, _join(k.folder, entry)


def _plan(
    snapshot: Snapshot, kustomizations: dict[str, Kustomization], root: Kustomization
) -> Root:
    inputs: set[str] = set()
    patches: list[PatchSource] = []
    problem: list[Problem] = []
    stack: list[str] = []

    def visit(k: Kustomization) -> None:
        if k.folder in stack:
            cycle = " -> ".join([*stack[stack.index(k.folder) :], k.folder]) or "."
            problem.append(
                Problem(k.path, 1, f"kustomizations reference each other in a cycle ({cycle})")
            )
            return
        inputs.add(k.path)
        if k.error is not None:
            problem.append(k.error)
            return
        stack.append(k.folder)
        try:
            _visit_fields(k)
        finally:
            stack.pop()

    def fail(
        k: Kustomization, key: str, index: int | None, message: str, skip: bool = False
    ) -> None:
        problem.append(Problem(k.path, k.line_of(key, index), message, skip))

    def local(k: Kustomization, key: str, index: int | None, entry: str) -> str | None:
        """The repository path of a file entry; a problem recorded when it cannot be read."""
        if is_remote(entry):
            fail(
                k,
                key,
                index,
                f"{key} entry '{entry}' is remote; remote bases and files are not fetched",
                skip=True,
            )
            return None
        path = _join(k.folder, entry)
        if path is None:
            fail(k, key, index, f"{key} entry '{entry}' points outside the repository")
            return None
        return path

    def _visit_fields(k: Kustomization) -> None:
        data = k.data
        for key in ("helmCharts", "helmChartInflationGenerator", "helmGlobals"):
            if data.get(key):
                fail(
                    k,
                    key,
                    None,
                    f"{key}: Helm charts inside a kustomization are not rendered (Helm is not run from Kustomize)",
                    skip=True,
                )
        for key in DIRECTORY_FIELDS:
            for index, entry in enumerate(_strings(data.get(key))):
                path = local(k, key, index, entry)
                if path is None:
                    continue
                if path in kustomizations:
                    visit(kustomizations[path])
                elif path in snapshot.files:
                    inputs.add(path)
                elif path in snapshot.folders:
                    fail(
                        k, key, index, f"{key} entry '{entry}' is a folder without a kustomization"
                    )
                else:
                    fail(
                        k,
                        key,
                        index,
                        f"{key} entry '{entry}': no such file or folder in the repository",
                    )
        for key in FILE_LIST_FIELDS:
            for index, entry in enumerate(_strings(data.get(key))):
                path = local(k, key, index, entry)
                if path is None:
                    continue
                if path in kustomizations:
                    visit(kustomizations[path])
                else:
                    _need(path, k, key, index, entry)
        for index, entry in enumerate(_list(data.get("patchesStrategicMerge"))):
            if isinstance(entry, str) and "\n" not in entry and ":" not in entry:
                path = local(k, "patchesStrategicMerge", index, entry)
                if path is not None and _need(path, k, "patchesStrategicMerge", index, entry):
                    patches.append(PatchSource(path, _text(snapshot.files[path]), 1, False, None))
            elif isinstance(entry, str):
                line = k.line_of("patchesStrategicMerge", index) + 1
                patches.append(PatchSource(k.path, entry, line, False, None))
        for key, json6902 in (("patches", None), ("patchesJson6902", True)):
            for index, entry in enumerate(_list(data.get(key))):
                if not isinstance(entry, dict):
                    continue
                target = entry.get("target") if isinstance(entry.get("target"), dict) else None
                if isinstance(entry.get("path"), str):
                    path = local(k, key, index, entry["path"])
                    if path is not None and _need(path, k, key, index, entry["path"]):
                        text = _text(snapshot.files[path])
                        patches.append(
                            PatchSource(path, text, 1, _is_json6902(text, json6902), target)
                        )
                elif isinstance(entry.get("patch"), str):
                    text = entry["patch"]
                    line = _inline_line(snapshot.files[k.path], k.line_of(key, index), text)
                    patches.append(
                        PatchSource(k.path, text, line, _is_json6902(text, json6902), target)
                    )
        for key in ("configMapGenerator", "secretGenerator"):
            for index, entry in enumerate(_list(data.get(key))):
                if not isinstance(entry, dict):
                    continue
                names = [
                    *_strings(entry.get("files")),
                    *_strings(entry.get("envs")),
                    *_strings(entry.get("env")),
                ]
                for name in names:
                    _need_file(k, key, index, name.partition("=")[2] or name)
        for index, entry in enumerate(_list(data.get("replacements"))):
            if isinstance(entry, dict) and isinstance(entry.get("path"), str):
                _need_file(k, "replacements", index, entry["path"])
        openapi = data.get("openapi")
        if isinstance(openapi, dict) and isinstance(openapi.get("path"), str):
            _need_file(k, "openapi", None, openapi["path"])

    def _need_file(k: Kustomization, key: str, index: int | None, entry: str) -> None:
        path = local(k, key, index, entry)
        if path is not None:
            _need(path, k, key, index, entry)

    def _need(path: str, k: Kustomization, key: str, index: int | None, entry: str) -> bool:
        if path in snapshot.files:
            inputs.add(path)
            return True
        fail(k, key, index, f"{key} entry '{entry}': no such file in the repository")
        return False

    visit(root)
    failures = [p for p in problem if not p.skip]
    chosen = failures[0] if failures else (problem[0] if problem else None)
    return Root(root.folder, root, sorted(inputs), patches, chosen)


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _text(data: bytes | str) -> str:
    return data.decode("utf-8", "replace") if isinstance(data, bytes) else data


def _is_json6902(text: str, declared: bool | None) -> bool:
    """`patchesJson6902` always; under `patches:` a patch is JSON 6902 when it is a list of ops."""
    if declared:
        return True
    stripped = text.lstrip()
    return stripped.startswith("-") or stripped.startswith("[")


def _inline_line(kustomization: bytes | str, entry_line: int, text: str) -> int:
    """The 1-based line where an inline patch's text starts in its kustomization file: the line
    after the `patch: |` key of the entry (block scalars start on the next line)."""
    lines = _text(kustomization).splitlines()
    for number in range(entry_line - 1, min(len(lines), entry_line + 40)):
        stripped = lines[number].strip().lstrip("- ")
        if stripped.startswith("patch:"):
            rest = stripped[len("patch:") :].strip()
            return number + 1 if rest and not rest.startswith(("|", ">")) else number + 2
    return entry_line


def consumed(roots: Iterable[Root]) -> set[str]:
    """Files analysed through a root (and so never as plain files)."""
    return {path for root in roots for path in root.inputs}
