"""What a pull request changes, and every manifest the analysis needs, in as few calls as possible.

The costly part of a review is reading and parsing YAML, so content is keyed by git blob SHA: a
file whose blob was seen before (an unchanged file on the next push, the same file at base and
head) is neither fetched nor parsed again. The repository's manifests are listed with one
recursive tree call per revision, and when many blobs are missing from the cache (a new process,
a new installation) the revision's tarball is read once instead of one call per file
(`bot/tarball.py`); whatever it does not give is still read blob by blob. All reads go to the base
repository, which holds the objects of fork pull requests too (GitHub keeps `refs/pull/N/head`),
so a fork the App is not installed on works like any branch.

The repository config comes from the BASE commit: a pull request must not switch off its gate.

Helm charts render from every file of their folder (templates, `.tpl` helpers, files read by
`.Files.Get`), not only YAML: those files are read too, through the same cache and archive, and
their content is kept (`ChangeSet.texts`) for rendering. A pull request that changes a chart's
file is relevant, whatever the file's extension.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import OrderedDict
from collections.abc import Iterator, MutableMapping
from dataclasses import dataclass, field
from typing import Any

import rules as registry
from bot.github import tarball
from bot.github.client import DIFF, RAW, GitHubError, Installation
from bot.github.diffs import apply_patch, git_blob_sha, right_side_lines
from render import helm
from render.helm_targets import ChartEngine
from render.kustomize import KUSTOMIZATION_NAMES, Snapshot, find_kustomizations, plan_roots
from render.targets import render_revision
from rules.core import engine
from rules.core.config import Config, ConfigError, parse_config
from rules.core.loader import MAX_FILE_BYTES, ParsedFile, SourceFile, load, parse_file

CONFIG_PATH = ".github/footgun.yml"
MAX_LISTED_FILES = 3000
"""GitHub lists at most 3,000 files of a pull request."""
BLOB_CONCURRENCY = 8
"""Blob reads in flight at once: fast on a cold cache, gentle on GitHub."""
CACHE_ENTRIES = 50_000


class ConfigInvalid(Exception):
    """The base commit's `.github/footgun.yml` cannot be used; the message is one line."""


class LRU(MutableMapping[str, Any]):
    """A bounded mapping that forgets the least recently used entries first."""

    def __init__(self, maxsize: int = CACHE_ENTRIES):
        self.maxsize = maxsize
        self._data: OrderedDict[str, Any] = OrderedDict()

    def __getitem__(self, key: str) -> Any:
        value = self._data[key]
        self._data.move_to_end(key)
        return value

    def __setitem__(self, key: str, value: Any) -> None:
        self._data[key] = value
        self._data.move_to_end(key)
        while len(self._data) > self.maxsize:
            self._data.popitem(last=False)

    def __delitem__(self, key: str) -> None:
        del self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)


@dataclass
class BlobCache:
    """Process-wide caches keyed by blob SHA: parsed manifests and parsed configs."""

    parsed: LRU = field(default_factory=LRU)
    configs: LRU = field(default_factory=lambda: LRU(1000))
    texts: LRU = field(default_factory=lambda: LRU(20_000))
    """Raw manifests: a changed file is rebuilt from its base text and its patch, no fetch."""
    builds: LRU = field(default_factory=lambda: LRU(2000))
    """Kustomize builds by the content of their inputs: an unchanged root is not built again,
    on the next push or at base and head of the same push."""


CACHE = BlobCache()


@dataclass(frozen=True)
class PullRequest:
    repository: str
    number: int
    head_sha: str
    base_sha: str
    head_repository: str

    @property
    def is_fork(self) -> bool:
        return self.head_repository != self.repository

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PullRequest:
        head_repo = (data["head"].get("repo") or {}).get("full_name") or "(deleted fork)"
        return cls(
            data["base"]["repo"]["full_name"],
            data["number"],
            data["head"]["sha"],
            data["base"]["sha"],
            head_repo,
        )


@dataclass(frozen=True)
class ChangedFile:
    path: str
    status: str
    sha: str | None
    previous_path: str | None = None
    patch: str | None = None


@dataclass
class ChangeSet:
    """Everything the engine and the publisher need about one pull request at one head SHA."""

    pull: PullRequest
    files: list[ChangedFile]
    diff_lines: dict[str, set[int]]
    """Per path, the head-side lines inside diff hunks: where an inline comment may go."""
    config: Config
    head: list[SourceFile] = field(default_factory=list)
    base: list[SourceFile] = field(default_factory=list)
    parsed: dict[str, ParsedFile] = field(default_factory=dict)
    """The parsed files of this run, by blob SHA (pinned: the LRU may evict, this may not)."""
    relevant: bool = False
    """Whether a changed file holds something the rules read (or could not be read)."""
    notes: list[str] = field(default_factory=list)
    texts: dict[str, bytes] = field(default_factory=dict)
    """The content of chart files (by blob SHA), for rendering."""

    @property
    def changed_paths(self) -> set[str]:
        return {f.path for f in self.files if f.status != "removed"}


async def fetch(gh: Installation, pull: PullRequest, cache: BlobCache | None = None) -> ChangeSet:
    """Read the change set of `pull`; raises ConfigInvalid for a broken base config."""
    cache = cache or CACHE
    repo = f"repos/{pull.repository}"
    files, notes = await _changed_files(gh, repo, pull.number)
    diff_lines = await _diff_lines(gh, repo, pull.number, files, notes)
    base_tree = await _tree(gh, repo, pull.base_sha, notes)
    config = await _config(gh, repo, base_tree, cache)
    change = ChangeSet(pull, files, diff_lines, config, notes=notes)
    reader = _BlobReader(gh, repo, cache, change.parsed, change.texts)

    base_charts = chart_folders(base_tree)
    wanted_head, wanted_base, reader.patches = _changed_blobs(files, base_tree, config)
    sizes = dict(base_tree.values())
    base_all = {p: e[0] for p, e in base_tree.items() if wants(config, p, base_charts)}
    reader.keep.update(sha for p, sha in base_all.items() if in_chart(p, base_charts))
    # Base first: a changed head file is then rebuilt from its base text and its patch.
    await reader.read(_by_sha(wanted_base), sizes, Archive(pull.base_sha, base_all))
    await reader.read(_by_sha(wanted_head), sizes, Archive(pull.head_sha, wanted_head))
    change.relevant = (
        _touches_charts(files, base_charts)
        or _holds_resources(wanted_head, change.parsed, config, skipped_counts=True)
        or _holds_resources(wanted_base, change.parsed, config, skipped_counts=False)
        or _changes_a_kustomization(files, config)
    )
    if not change.relevant:
        change.head = _sources(wanted_head)
        change.base = _sources(wanted_base)
        return change

    head_tree = await _tree(gh, repo, pull.head_sha, notes)
    head_charts = chart_folders(head_tree)
    head_all = {p: e[0] for p, e in head_tree.items() if wants(config, p, head_charts)}
    reader.keep.update(sha for p, sha in head_all.items() if in_chart(p, head_charts))
    sizes = dict([*head_tree.values(), *base_tree.values()])
    # Head first: what is left at base is what the pull request changed, a few blob reads.
    await reader.read(_by_sha(head_all), sizes, Archive(pull.head_sha, head_all))
    await reader.read(_by_sha(base_all), sizes)
    change.head = await _with_build_inputs(
        reader, head_tree, _sources(head_all, change.texts), config
    )
    change.base = await _with_build_inputs(
        reader, base_tree, _sources(base_all, change.texts), config
    )
    return change


def _changes_a_kustomization(files: list[ChangedFile], config: Config) -> bool:
    """A changed kustomization changes what its root deploys, even without a manifest."""
    return config.render.kustomize != "off" and any(
        name.rpartition("/")[2] in KUSTOMIZATION_NAMES
        for f in files
        for name in (f.path, f.previous_path or f.path)
    )


async def _with_build_inputs(
    reader: _BlobReader, tree: Tree, sources: list[SourceFile], config: Config
) -> list[SourceFile]:
    """`sources` plus, when the revision holds kustomizations, every file of the tree (what a
    build may look up), with the content of the files the roots read (`render.kustomize`).

    The kustomization files and their inputs are read by blob SHA through the shared text
    cache, so an unchanged root costs no call on the next push.
    """
    names = [p for p in tree if p.rpartition("/")[2] in KUSTOMIZATION_NAMES]
    if not names or config.render.kustomize == "off":
        return sources
    texts = dict(
        zip(names, await asyncio.gather(*(reader.text(tree[p][0]) for p in names)), strict=True)
    )
    snapshot = Snapshot(dict.fromkeys(tree, b""))
    roots = plan_roots(snapshot, find_kustomizations(names, texts))
    inputs = sorted({p for root in roots for p in root.inputs if p in tree} - set(texts))
    data = dict(
        zip(inputs, await asyncio.gather(*(reader.text(tree[p][0]) for p in inputs)), strict=True)
    )
    data.update(texts)
    listed = {f.path for f in sources}
    extra = [SourceFile(p, data.get(p, b""), tree[p][0]) for p in sorted(tree) if p not in listed]
    for source in sources:
        if source.path in data:
            source.data = data[source.path]
    return [*sources, *extra]


def chart_folders(tree: dict[str, Any]) -> tuple[str, ...]:
    """The folders of a tree holding a `Chart.yaml` ("" for a chart at the root), as prefixes."""
    return tuple(
        path[: -len("Chart.yaml")] for path in tree if path.rpartition("/")[2] == "Chart.yaml"
    )


def in_chart(path: str, charts: tuple[str, ...]) -> bool:
    return bool(charts) and path.startswith(charts)


def wants(config: Config, path: str, charts: tuple[str, ...]) -> bool:
    """A file the analysis reads (YAML the config wants), or a file of a chart (to render)."""
    return config.wants(path) or in_chart(path, charts)


def _touches_charts(files: list[ChangedFile], charts: tuple[str, ...]) -> bool:
    return any(in_chart(f.path, charts) or f.path.endswith("/Chart.yaml") for f in files)


def _changed_blobs(
    files: list[ChangedFile], base_tree: Tree, config: Config
) -> tuple[dict[str, str], dict[str, str], dict[str, tuple[str | None, str]]]:
    """The changed files the config wants, at head and at base ({path: blob SHA}), and for
    each head blob the (base blob, patch) it can be rebuilt from."""
    head, base, patches = {}, {}, {}
    for f in files:
        old = f.previous_path or f.path
        base_sha = base_tree[old][0] if f.status != "added" and old in base_tree else None
        if base_sha and config.wants(old):
            base[old] = base_sha
        if f.status != "removed" and f.sha and config.wants(f.path):
            head[f.path] = f.sha
            if f.patch is not None:
                patches[f.sha] = (base_sha, f.patch)
    return head, base, patches


def _by_sha(paths: dict[str, str]) -> dict[str, str]:
    return {sha: path for path, sha in paths.items()}


def _sources(paths: dict[str, str], texts: dict[str, bytes] | None = None) -> list[SourceFile]:
    """Source files whose content is already parsed in the pinned cache (hence no data), and
    chart files with their content (`texts`, by blob SHA)."""
    texts = texts or {}
    return [SourceFile(path, texts.get(sha, b""), sha) for path, sha in sorted(paths.items())]


def _holds_resources(
    paths: dict[str, str], parsed: dict[str, ParsedFile], config: Config, skipped_counts: bool
) -> bool:
    resources, skipped = load(_sources(paths), config, parsed)
    return bool(resources) or (skipped_counts and bool(skipped))


async def _changed_files(
    gh: Installation, repo: str, number: int
) -> tuple[list[ChangedFile], list[str]]:
    items = await gh.paginate(f"{repo}/pulls/{number}/files", limit=MAX_LISTED_FILES)
    notes = []
    if len(items) >= MAX_LISTED_FILES:
        notes.append(
            f"GitHub lists only the first {MAX_LISTED_FILES:,} changed files; "
            "later files were not reviewed"
        )
    files = [
        ChangedFile(
            i["filename"], i["status"], i.get("sha"), i.get("previous_filename"), i.get("patch")
        )
        for i in items
    ]
    return files, notes


async def _diff_lines(
    gh: Installation, repo: str, number: int, files: list[ChangedFile], notes: list[str]
) -> dict[str, set[int]]:
    """Head-side lines in hunks, from the diff; from the files' patches when the diff is too large."""
    try:
        response = await gh.request("GET", f"{repo}/pulls/{number}", accept=DIFF)
        text = response.text
    except GitHubError as exc:
        if exc.status != 406:
            raise
        notes.append(
            "the diff is too large for GitHub to render; lines were taken from the "
            "files list (files without a patch get file-level comments)"
        )
        text = "".join(
            f"--- a/{f.previous_path or f.path}\n+++ b/{f.path}\n{f.patch}\n"
            for f in files
            if f.patch and f.status != "removed"
        )
    return right_side_lines(text)


Tree = dict[str, tuple[str, int | None]]
"""path -> (blob SHA, size) for every blob of a revision."""


async def _tree(gh: Installation, repo: str, sha: str, notes: list[str]) -> Tree:
    """Every blob of a commit: one recursive call, or a walk when GitHub truncates the listing."""
    data = await gh.get(f"{repo}/git/trees/{sha}", {"recursive": "1"})
    if not data.get("truncated"):
        return _blobs(data["tree"], "")
    notes.append(
        f"the tree of {sha[:7]} is too large for one listing; it was read folder by folder"
    )
    return await _walk(gh, repo, sha, "")


async def _walk(gh: Installation, repo: str, sha: str, prefix: str) -> Tree:
    data = await gh.get(f"{repo}/git/trees/{sha}")
    out = _blobs(data["tree"], prefix)
    for entry in data["tree"]:
        if entry["type"] == "tree":
            out.update(await _walk(gh, repo, entry["sha"], f"{prefix}{entry['path']}/"))
    return out


def _blobs(entries: list[dict[str, Any]], prefix: str) -> Tree:
    return {
        prefix + e["path"]: (e["sha"], e.get("size"))
        for e in entries
        if e["type"] == "blob" and e.get("mode") != "120000"  # symlinks point elsewhere
    }


async def _config(gh: Installation, repo: str, base_tree: Tree, cache: BlobCache) -> Config:
    entry = base_tree.get(CONFIG_PATH)
    if entry is None:
        return Config()
    sha = entry[0]
    config = cached_config(cache, sha)
    if config is None:
        response = await gh.request("GET", f"{repo}/git/blobs/{sha}", accept=RAW)
        config = remember_config(cache, sha, response.content)
    return config


def cached_config(cache: BlobCache, sha: str) -> Config | None:
    """The config blob `sha` parsed before, or None; `ConfigInvalid` again if it was broken."""
    cached = cache.configs.get(sha)
    if isinstance(cached, str):
        raise ConfigInvalid(cached)
    return cached


def remember_config(cache: BlobCache, sha: str, data: bytes) -> Config:
    """Parse the config blob `sha` and keep the outcome, a broken config's error included: every
    push of every pull request against the same base reads the same blob."""
    try:
        cached: Config | str = parse_config(
            data.decode("utf-8"), registry.option_defaults(), CONFIG_PATH
        )
    except UnicodeDecodeError:
        cached = f"{CONFIG_PATH}: not UTF-8 text"
    except ConfigError as exc:
        cached = str(exc)
    cache.configs[sha] = cached
    if isinstance(cached, str):
        raise ConfigInvalid(cached)
    return cached


@dataclass(frozen=True)
class Archive:
    """Where missing blobs may come from in bulk: the tarball of commit `ref`, whose wanted
    files and their blob SHAs ({path: SHA}) the tree listed."""

    ref: str
    paths: dict[str, str]


class _BlobReader:
    """Fetch and parse blobs not yet in the cache, a few at a time, pinning what this run uses."""

    def __init__(
        self,
        gh: Installation,
        repo: str,
        cache: BlobCache,
        pinned: dict[str, ParsedFile],
        kept: dict[str, bytes] | None = None,
    ):
        self.gh, self.repo, self.cache, self.pinned = gh, repo, cache, pinned
        self.keep: set[str] = set()
        """Blob SHAs whose content this run keeps (chart files, for rendering)."""
        self.kept = kept if kept is not None else {}
        self.limit = asyncio.Semaphore(BLOB_CONCURRENCY)
        self.patches: dict[str, tuple[str | None, str]] = {}
        """Head blob SHA -> (base blob SHA or None when added, patch from the files list)."""
        self.unpacked: dict[str, bytes] = {}
        """Verified texts from archives, by blob SHA, held for this run (the text LRU may evict)."""
        self.broken_archives: set[str] = set()
        """Commits whose archive could not be (fully) read this run: not asked for again."""

    async def read(
        self, shas: dict[str, str], sizes: dict[str, int | None], archive: Archive | None = None
    ) -> None:
        """Parse the blobs `shas` ({SHA: path}); from `archive` in bulk when many must be fetched."""
        todo = self._todo(shas, sizes)
        # Chart files parsed before (by an earlier run) still need their content here.
        listed = {sha for sha, _ in todo}
        todo += [
            (sha, path)
            for sha, path in shas.items()
            if sha in self.keep and sha not in self.kept and sha not in listed
        ]
        missing = sum(not self._at_hand(sha) for sha, _ in todo)
        if archive is not None and missing > tarball.TARBALL_THRESHOLD:
            await self._unpack(archive)
        texts = await asyncio.gather(*(self._text(sha) for sha, _ in todo))
        for (sha, _), data in zip(todo, texts, strict=True):
            if sha in self.keep:
                self.kept[sha] = data
        # Parsing is CPU work (a first review of a large repository parses thousands of files):
        # in a thread, so that the event loop keeps serving webhooks meanwhile.
        parsed = await asyncio.to_thread(
            lambda: [parse_file(path, data) for (_, path), data in zip(todo, texts, strict=False)]
        )
        for (sha, _), result in zip(todo, parsed, strict=False):
            self.cache.parsed[sha] = result
            self.pinned[sha] = result

    def _todo(self, shas: dict[str, str], sizes: dict[str, int | None]) -> list[tuple[str, str]]:
        """The blobs still to parse; cached parses are pinned, files over 1 MiB refused."""
        todo = []
        for sha, path in shas.items():
            if sha in self.pinned:
                continue
            parsed = self.cache.parsed.get(sha)
            if parsed is not None:
                self.pinned[sha] = parsed
            elif (sizes.get(sha) or 0) > MAX_FILE_BYTES:
                self.pinned[sha] = ParsedFile(
                    [], f"larger than 1 MiB ({sizes[sha]:,} bytes); split it into smaller files"
                )
            else:
                todo.append((sha, path))
        return todo

    def _at_hand(self, sha: str) -> bool:
        """Whether the text of `sha` needs no blob read: unpacked, cached, or rebuildable."""
        if sha in self.unpacked or sha in self.cache.texts:
            return True
        base_sha, _ = self.patches.get(sha, ("", ""))
        return base_sha is None or base_sha in self.unpacked or base_sha in self.cache.texts

    async def _unpack(self, archive: Archive) -> None:
        """Keep the verified texts of the archive's wanted files that are not at hand yet."""
        if archive.ref in self.broken_archives:
            return
        wanted = {p: sha for p, sha in archive.paths.items() if not self._at_hand(sha)}
        unpacked = await tarball.read(self.gh, self.repo, archive.ref, wanted)
        self.unpacked.update(unpacked.texts)
        if unpacked.problem:
            self.broken_archives.add(archive.ref)

    async def text(self, sha: str) -> bytes:
        """The content of blob `sha` (a file a build reads), through the same caches."""
        return await self._text(sha)

    async def _text(self, sha: str) -> bytes:
        """The content of blob `sha`: unpacked, cached, rebuilt from its patch, or fetched."""
        data = self.unpacked.get(sha)
        if data is None:
            data = self.cache.texts.get(sha)
        if data is None:
            data = self._rebuilt(sha)
        if data is None:
            async with self.limit:
                response = await self.gh.request("GET", f"{self.repo}/git/blobs/{sha}", accept=RAW)
            data = response.content
        if len(data) <= MAX_FILE_BYTES:
            self.cache.texts[sha] = data
        return data

    def _rebuilt(self, sha: str) -> bytes | None:
        """The head content of a changed file from its cached base text and its patch.

        Only trusted when the result hashes to the head blob SHA GitHub listed.
        """
        if sha not in self.patches:
            return None
        base_sha, patch = self.patches[sha]
        old = (
            b"" if base_sha is None else self.unpacked.get(base_sha, self.cache.texts.get(base_sha))
        )
        if old is None:
            return None
        try:
            new = apply_patch(old.decode("utf-8"), patch)
        except UnicodeDecodeError:
            return None
        if new is None:
            return None
        data = new.encode("utf-8")
        return data if git_blob_sha(data) == sha else None


@dataclass
class Revision:
    """Every manifest of one commit, parsed: what the sweeper analyses on the default branch."""

    sha: str
    config: Config
    files: list[SourceFile]
    parsed: dict[str, ParsedFile]
    notes: list[str]


async def fetch_revision(
    gh: Installation, repository: str, sha: str, cache: BlobCache | None = None
) -> Revision:
    """The manifests and config at `sha`: one tree call, then blobs by SHA through the shared
    cache, or the commit's tarball when many are missing.

    A broken config there falls back to the defaults (every rule on), with a note: a cleanup
    check must not pass because the config it would read cannot be parsed.
    """
    cache = cache or CACHE
    repo = f"repos/{repository}"
    notes: list[str] = []
    tree = await _tree(gh, repo, sha, notes)
    try:
        config = await _config(gh, repo, tree, cache)
    except ConfigInvalid as exc:
        config = Config()
        notes.append(f"{exc}; the defaults were used")
    parsed: dict[str, ParsedFile] = {}
    wanted = {p: e[0] for p, e in tree.items() if config.wants(p)}
    sizes = dict(tree.values())
    reader = _BlobReader(gh, repo, cache, parsed)
    await reader.read(_by_sha(wanted), sizes, Archive(sha, wanted))
    files = await _with_build_inputs(reader, tree, _sources(wanted), config)
    return Revision(sha, config, files, parsed, notes)


async def analyse(
    head: list[SourceFile],
    base: list[SourceFile] | None,
    config: Config,
    parsed: dict[str, ParsedFile],
    **options: Any,
) -> engine.Report:
    """`rules.core.engine.analyse` on what the files fetched here deploy, in a thread.

    The analysis is pure CPU, seconds of it on a large repository, and a Kustomize build or a
    Helm render runs a tool: run on the event loop, it would stall the webhook intake (GitHub
    gives up after 10 s) and the health probes. Builds are cached by the content of their inputs
    (`BlobCache.builds`): base and head share every root the pull request did not touch. Charts
    render in a Helm worker of this analysis (its own process: analyses run in parallel
    threads), renders cached process-wide by chart and values.
    """

    def work() -> engine.Report:
        builds = CACHE.builds
        with contextlib.ExitStack() as stack:
            helm_engine = stack.enter_context(helm.HelmEngine()) if helm.available() else None
            if helm_engine is not None and _has_chart(head):
                helm_engine.spawn()
            charts = ChartEngine(helm_engine, RENDERS)
            head_revision = render_revision(
                head, config, cache=builds, parse_cache=parsed, charts=charts
            )
            base_revision = (
                render_revision(base, config, cache=builds, parse_cache=parsed, charts=charts)
                if base is not None
                else None
            )
            return engine.analyse(head_revision, base_revision, config, cache=parsed, **options)

    return await asyncio.to_thread(work)


RENDERS = LRU(2000)
"""Helm renders by chart and values digest, shared by the analyses of this process."""


def _has_chart(files: list[SourceFile]) -> bool:
    return any(f.path.rpartition("/")[2] == "Chart.yaml" for f in files)
