"""Parsed manifests on disk, keyed by content, so an unchanged file is never parsed twice.

`footgun check` keys entries by the sha256 of a file's content, `footgun diff` by its git blob
SHA (known from `git ls-tree` before any blob is read). Entries live under
`$XDG_CACHE_HOME/footgun/<version>/` (default `~/.cache/footgun`), one file each, named by key.

- Versioned: the version is a digest of the loader's source and the YAML library's version, so
  any change to how files are parsed invalidates every entry without anyone bumping a number.
- Safe: an entry is written to a temporary file and renamed into place (atomic on POSIX), so a
  concurrent run sees the whole entry or none. A missing, truncated or corrupt entry is a miss,
  never a crash; a cache directory that cannot be written just stops caching.
- Pruned: an entry unused for `UNUSED_DAYS` is removed. A hit refreshes the entry's mtime at most
  once a day (a read stays a read), and the first write of a process scans the folder at most
  once a day (a marker file's mtime says when it last did). Temporary files of writers in flight
  start with a dot and are left alone.
- Plain data only: each document's path, text, first line and body. `Document._nodes` (composed
  YAML nodes, built lazily when a finding needs a line number) are never stored, and unpickling
  refuses every class but the few a safe YAML loader can produce.

`FindingsCache` keeps, beside the parsed files, the findings of a whole base revision, so that
`footgun diff` against a base it has seen before analyses only the head.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import itertools
import os
import pickle
import re
import shutil
import time
from collections.abc import Iterator, MutableMapping
from pathlib import Path
from typing import Any

import render
import rules
from rules.core import loader
from rules.core.document import Document
from rules.core.loader import ParsedFile, SourceFile
from rules.core.model import Finding, ResourceRef
from rules.core.reuse import Known

_FORMAT = 1
"""Bump when the layout of an entry changes (the loader's own changes are detected)."""

_counter = itertools.count()
"""Makes temporary names unique within a process (the pid makes them unique across processes)."""

UNUSED_DAYS = 30
"""An entry no run has read or written for this long is pruned."""
_DAY = 24 * 3600.0
PRUNED_MARKER = ".pruned"
"""In the cache root (the version folder holds entries only): its mtime is when the version
folder was last scanned for unused entries."""

_ALLOWED_CLASSES = {
    ("datetime", "date"),
    ("datetime", "datetime"),
    ("datetime", "time"),
    ("datetime", "timedelta"),
    ("datetime", "timezone"),
}


def default_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME", "")
    if not os.path.isabs(base):  # the XDG spec: a relative path is invalid and ignored
        base = os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "footgun"


def cache_version() -> str:
    """A digest of everything that decides what an entry holds."""
    return _version_of(loader.__file__)


@functools.cache
def _version_of(loader_file: str) -> str:
    import yaml

    digest = hashlib.sha256(f"{_FORMAT}:{yaml.__version__}:{yaml.__with_libyaml__}".encode())
    digest.update(Path(loader_file).read_bytes())
    return f"v{_FORMAT}-{digest.hexdigest()[:16]}"


class _PlainUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> type:
        if (module, name) in _ALLOWED_CLASSES:
            found: type = super().find_class(module, name)
            return found
        raise pickle.UnpicklingError(f"{module}.{name} is not allowed in a parse cache entry")


class EntryFolder:
    """One file per entry in `<root>/<version>/`, written atomically, read as plain data only."""

    def __init__(self, root: str | os.PathLike[str] | None = None) -> None:
        self.root = Path(root) if root is not None else default_root()
        self.folder = self.root / cache_version()
        self._folder = str(self.folder)
        self.writable = True
        self._ready = False

    def path(self, name: str) -> str:
        """One flat folder: a run writes hundreds of entries, and each extra folder costs a
        mkdir on a cold run (ext4 and its kin index large folders well)."""
        return os.path.join(self._folder, name)

    def names(self) -> list[str]:
        try:
            return [n for n in os.listdir(self._folder) if not n.startswith(".")]
        except OSError:
            return []

    def read(self, name: str) -> Any:
        """The record stored under `name`, or None when it is missing or damaged."""
        try:
            with open(self.path(name), "rb") as handle:
                data = handle.read()
                last_used = os.fstat(handle.fileno()).st_mtime
            record = _PlainUnpickler(io.BytesIO(data)).load()
        except Exception:
            return None
        if time.time() - last_used > _DAY:
            _touch(self.path(name))
        return record

    def write(self, name: str, record: Any) -> None:
        if not self.writable:
            return
        try:
            data = pickle.dumps(record, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception:
            return
        target = self.path(name)
        temporary = self.path(f".{name}.{os.getpid()}.{next(_counter)}.tmp")
        try:
            if not self._ready:
                self._prune_old_versions()
                os.makedirs(self._folder, exist_ok=True)
                self._ready = True
                self._prune_unused()
            handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            try:
                with os.fdopen(handle, "wb") as out:
                    out.write(data)
                os.replace(temporary, target)
            except BaseException:
                _unlink(temporary)
                raise
        except OSError:
            self.writable = False

    def remove(self, name: str) -> bool:
        try:
            os.unlink(self.path(name))
        except FileNotFoundError:
            return False
        except OSError:
            pass
        return True

    def _prune_old_versions(self) -> None:
        """Entries of other loader versions can never be read again: remove them."""
        if not self.root.is_dir():
            return
        for folder in self.root.iterdir():
            if folder.is_dir() and folder.name.startswith("v") and folder != self.folder:
                shutil.rmtree(folder, ignore_errors=True)

    def _prune_unused(self) -> None:
        """Remove entries unused for `UNUSED_DAYS`; a no-op if this folder was scanned today.

        The marker is touched before the scan, so concurrent runs do not scan twice. Dot files
        (temporary files being written, the marker) are never removed; an entry that a run
        refreshes while it is being judged is at worst lost, which is a miss on the next run.
        """
        marker = str(self.root / PRUNED_MARKER)
        now = time.time()
        try:
            if now - os.stat(marker).st_mtime < _DAY:
                return
        except FileNotFoundError:
            pass
        except OSError:
            return
        try:
            with open(marker, "a"):
                pass
            os.utime(marker)
            with os.scandir(self._folder) as entries:
                unused = [
                    e.path
                    for e in entries
                    if not e.name.startswith(".")
                    and now - e.stat(follow_symlinks=False).st_mtime > UNUSED_DAYS * _DAY
                ]
        except OSError:
            return
        for path in unused:
            _unlink(path)


class ParseCache(MutableMapping[str, ParsedFile]):
    """A `MutableMapping[str, ParsedFile]` backed by one file per entry, named by its key.

    Entries read once are kept in memory, so `key in cache` followed by `cache[key]` reads the
    file once, and an entry seen by `in` cannot vanish before the loader asks for it.
    """

    def __init__(self, root: str | os.PathLike[str] | None = None) -> None:
        self.entries = EntryFolder(root)
        self.root, self.folder = self.entries.root, self.entries.folder
        self._memory: dict[str, ParsedFile] = {}

    @staticmethod
    def _name(key: str) -> str:
        return key if _is_hex(key) else hashlib.sha256(key.encode()).hexdigest()

    def __getitem__(self, key: str) -> ParsedFile:
        parsed = self._memory.get(key)
        if parsed is None:
            parsed = self._read(key)
            if parsed is None:
                raise KeyError(key)
            self._memory[key] = parsed
        return parsed

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        try:
            self[key]
        except KeyError:
            return False
        return True

    def __setitem__(self, key: str, parsed: ParsedFile) -> None:
        self._memory[key] = parsed
        record = (
            key,
            parsed.skipped,
            [(d.path, d.text, d.start_line, d.body) for d in parsed.documents],
            parsed.invalid,
        )
        self.entries.write(self._name(key), record)

    def __delitem__(self, key: str) -> None:
        existed = self._memory.pop(key, None) is not None
        if not self.entries.remove(self._name(key)) and not existed:
            raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        """Keys of the entries on disk (entries are named by their key, or its digest)."""
        seen = set(self._memory)
        yield from self._memory
        yield from (n for n in self.entries.names() if n not in seen and _is_hex(n))

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def _read(self, key: str) -> ParsedFile | None:
        record = self.entries.read(self._name(key))
        try:
            stored_key, skipped, documents, invalid = record
            if stored_key != key:
                return None
            return ParsedFile(
                [Document(path, text, start, body) for path, text, start, body in documents],
                skipped,
                tuple(invalid) if invalid is not None else None,
            )
        except Exception:
            return None


class FindingsCache:
    """The analysis of a whole revision as reuse keeps it (`rules.core.reuse.Known`), keyed by
    everything it depends on (`analysis_key`).

    `footgun diff` compares against a base that rarely changes between runs (every push to a
    pull request is judged against the same base), so the base's analysis is worth keeping:
    its findings (what telling new from old needs: no positions, no edits), the state of each
    resource and the problems the head's analysis may reuse.
    """

    def __init__(self, root: str | os.PathLike[str] | None = None) -> None:
        self.entries = EntryFolder(root)

    def get(self, key: str) -> Known | None:
        record = self.entries.read(f"known-{key}")
        try:
            stored_key, rows, states, facts, problems = record
            if stored_key != key:
                return None
            findings = [
                Finding(
                    rule,
                    severity,
                    message,
                    path,
                    0,
                    0,
                    ResourceRef(kind, namespace, name),
                    fp,
                    target=target,
                    key=key_,
                )
                for rule, severity, message, path, kind, namespace, name, fp, target, key_ in rows
            ]
            if not (
                isinstance(states, set)
                and isinstance(facts, dict)
                and isinstance(problems, dict)
                and all(isinstance(kept, list) for kept in problems.values())
            ):
                return None
            return Known(findings, states, facts, problems)
        except Exception:
            return None

    def put(self, key: str, known: Known) -> None:
        rows = [
            (
                f.rule,
                f.severity,
                f.message,
                f.path,
                f.resource.kind,
                f.resource.namespace,
                f.resource.name,
                f.fingerprint,
                f.target,
                f.key,
            )
            for f in known.findings
        ]
        record = (key, rows, known.states, known.facts, known.problems)
        self.entries.write(f"known-{key}", record)


class BuildCache(MutableMapping[str, tuple[str | None, str | None]]):
    """Kustomize builds on disk, keyed by the content of every input and the tool's version
    (`render.targets`): a root whose inputs did not change is never built twice."""

    def __init__(self, root: str | os.PathLike[str] | None = None) -> None:
        self.entries = EntryFolder(root)
        self._memory: dict[str, tuple[str | None, str | None]] = {}

    def __getitem__(self, key: str) -> tuple[str | None, str | None]:
        found = self._memory.get(key)
        if found is None:
            record = self.entries.read(f"build-{key}")
            if not (
                isinstance(record, tuple)
                and len(record) == 3
                and record[0] == key
                and all(v is None or isinstance(v, str) for v in record[1:])
            ):
                raise KeyError(key)
            found = self._memory[key] = (record[1], record[2])
        return found

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        try:
            self[key]
        except KeyError:
            return False
        return True

    def __setitem__(self, key: str, value: tuple[str | None, str | None]) -> None:
        self._memory[key] = value
        self.entries.write(f"build-{key}", (key, *value))

    def __delitem__(self, key: str) -> None:
        self._memory.pop(key, None)
        self.entries.remove(f"build-{key}")

    def __iter__(self) -> Iterator[str]:
        return iter(self._memory)

    def __len__(self) -> int:
        return len(self._memory)


def analysis_key(files: list[SourceFile], config: object, extra: str = "") -> str:
    """A digest of everything a revision's findings depend on: each file's path and content
    key, the config, the source of every module of the analysis (rules, engine, loader, the
    render stage) and `extra` (the render tool's version)."""
    digest = hashlib.sha256(_rules_digest().encode())
    digest.update(repr(config).encode())
    digest.update(extra.encode())
    for source in sorted(files, key=lambda f: f.path):
        digest.update(
            f"\0{source.path}\0{loader.cache_key(source)}".encode("utf-8", "surrogateescape")
        )
    return digest.hexdigest()


def _rules_digest() -> str:
    digest = hashlib.sha256(cache_version().encode())
    for module in (rules, render):
        package = Path(module.__file__ or "").parent  # every module, subpackages included
        for source in sorted(package.rglob("*.py")):
            name = f"{package.name}/{source.relative_to(package).as_posix()}"
            digest.update(name.encode() + b"\0" + source.read_bytes())
    return digest.hexdigest()


def _is_hex(key: str) -> bool:
    return _HEX.fullmatch(key) is not None


_HEX = re.compile(r"[0-9a-f]{8,128}")


def _touch(path: str) -> None:
    with contextlib.suppress(OSError):  # a read-only cache still serves hits
        os.utime(path)


def _unlink(path: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)
