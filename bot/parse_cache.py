"""Parsed manifests on disk, keyed by content, so an unchanged file is never parsed twice.

`footgun check` keys entries by the sha256 of a file's content, `footgun diff` by its git blob
SHA (known from `git ls-tree` before any blob is read). Entries live under
`$XDG_CACHE_HOME/footgun/<version>/` (default `~/.cache/footgun`), one file each, named by key.

- Versioned: the version is a digest of the loader's source and the YAML library's version, so
  any change to how files are parsed invalidates every entry without anyone bumping a number.
- Safe: an entry is written to a temporary file and renamed into place (atomic on POSIX), so a
  concurrent run sees the whole entry or none. A missing, truncated or corrupt entry is a miss,
  never a crash; a cache directory that cannot be written just stops caching.
- Plain data only: each document's path, text, first line and body. `Document._nodes` (composed
  YAML nodes, built lazily when a finding needs a line number) are never stored, and unpickling
  refuses every class but the few a safe YAML loader can produce.
"""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import itertools
import shutil
from collections.abc import Iterator, MutableMapping
from pathlib import Path

from rules import loader
from rules.loader import Document, ParsedFile

_FORMAT = 1
"""Bump when the layout of an entry changes (the loader's own changes are detected)."""

_counter = itertools.count()
"""Makes temporary names unique within a process (the pid makes them unique across processes)."""

_ALLOWED_CLASSES = {
    ("datetime", "date"),
    ("datetime", "datetime"),
    ("datetime", "time"),
    ("datetime", "timedelta"),
    ("datetime", "timezone"),
}


def default_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "footgun"


def cache_version() -> str:
    """A digest of everything that decides what an entry holds."""
    import yaml

    digest = hashlib.sha256(f"{_FORMAT}:{yaml.__version__}:{yaml.__with_libyaml__}".encode())
    digest.update(Path(loader.__file__).read_bytes())
    return f"v{_FORMAT}-{digest.hexdigest()[:16]}"


class _PlainUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> type:
        if (module, name) in _ALLOWED_CLASSES:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"{module}.{name} is not allowed in a parse cache entry")


class ParseCache(MutableMapping[str, ParsedFile]):
    """A `MutableMapping[str, ParsedFile]` backed by one file per entry.

    Entries read once are kept in memory, so `key in cache` followed by `cache[key]` reads the
    file once, and an entry seen by `in` cannot vanish before the loader asks for it.
    """

    def __init__(self, root: str | os.PathLike[str] | None = None) -> None:
        self.root = Path(root) if root is not None else default_root()
        self.folder = self.root / cache_version()
        self._memory: dict[str, ParsedFile] = {}
        self._folder = str(self.folder)
        self._writable = True
        self._ready = False

    def _file(self, key: str) -> str:
        """One flat folder: a run writes hundreds of entries, and each extra folder costs a
        mkdir on a cold run (ext4 and its kin index large folders well)."""
        name = key if _is_hex(key) else hashlib.sha256(key.encode()).hexdigest()
        return os.path.join(self._folder, name)

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
        if self._writable:
            self._write(key, parsed)

    def __delitem__(self, key: str) -> None:
        existed = self._memory.pop(key, None) is not None
        try:
            os.unlink(self._file(key))
        except FileNotFoundError:
            if not existed:
                raise KeyError(key) from None
        except OSError:
            pass

    def __iter__(self) -> Iterator[str]:
        """Keys of the entries on disk (entries are named by their key, or its digest)."""
        seen = set(self._memory)
        yield from self._memory
        if self.folder.is_dir():
            for name in os.listdir(self.folder):
                if name not in seen and not name.startswith("."):
                    yield name

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def _read(self, key: str) -> ParsedFile | None:
        try:
            with open(self._file(key), "rb") as handle:
                data = handle.read()
        except OSError:
            return None
        try:
            stored_key, skipped, documents = _PlainUnpickler(io.BytesIO(data)).load()
            if stored_key != key:
                return None
            return ParsedFile(
                [Document(path, text, start, body) for path, text, start, body in documents],
                skipped,
            )
        except Exception:  # noqa: BLE001 - any damage to an entry makes it a miss
            return None

    def _write(self, key: str, parsed: ParsedFile) -> None:
        record = (
            key,
            parsed.skipped,
            [(d.path, d.text, d.start_line, d.body) for d in parsed.documents],
        )
        try:
            data = pickle.dumps(record, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception:  # noqa: BLE001 - a body pickle cannot store is simply not cached
            return
        target = self._file(key)
        temporary = os.path.join(
            self._folder, f".{os.path.basename(target)}.{os.getpid()}.{next(_counter)}.tmp"
        )
        try:
            if not self._ready:
                self._prune_old_versions()
                os.makedirs(self._folder, exist_ok=True)
                self._ready = True
            handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            try:
                with os.fdopen(handle, "wb") as out:
                    out.write(data)
                os.replace(temporary, target)
            except BaseException:
                _unlink(temporary)
                raise
        except OSError:
            self._writable = False

    def _prune_old_versions(self) -> None:
        """Entries of other loader versions can never be read again: remove them."""
        if not self.root.is_dir():
            return
        for folder in self.root.iterdir():
            if folder.is_dir() and folder.name.startswith("v") and folder != self.folder:
                shutil.rmtree(folder, ignore_errors=True)


def _is_hex(key: str) -> bool:
    return 8 <= len(key) <= 128 and all(c in "0123456789abcdef" for c in key)


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
