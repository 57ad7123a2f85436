"""Where the CLI gets files: the working tree, or a git revision read without checking it out."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

from rules.loader import MAX_FILE_BYTES, SourceFile

_SKIP_DIRS = {".git", ".venv", "node_modules", "__pycache__", ".footgun-cache"}


class SourceError(Exception):
    """A path or revision the user named cannot be read."""


def from_paths(paths: list[str]) -> Iterator[SourceFile]:
    """YAML files under the given files and folders, with paths relative to where they were named."""
    for name in paths:
        root = Path(name)
        if root.is_file():
            yield _read(root, root.as_posix())
        elif root.is_dir():
            for folder, dirs, files in os.walk(root):
                dirs[:] = sorted(d for d in dirs if d not in _SKIP_DIRS)
                for file in sorted(files):
                    if file.endswith((".yaml", ".yml")):
                        path = Path(folder, file)
                        yield _read(path, os.path.normpath(path).replace(os.sep, "/"))
        else:
            raise SourceError(f"{name}: no such file or folder")


def _read(path: Path, shown: str) -> SourceFile:
    with path.open("rb") as handle:
        data = handle.read(MAX_FILE_BYTES + 1)
    return SourceFile(shown, data)


def from_git(revision: str, cwd: str | None = None) -> list[SourceFile]:
    """Every YAML blob of `revision`, keyed by blob SHA, content not yet read (see `read_blobs`).

    Keying by blob SHA lets the parse cache skip reading and parsing unchanged files.
    """
    listing = _git(["ls-tree", "-r", "-z", "--full-tree", revision], cwd)
    entries = []
    for record in listing.split(b"\0"):
        if not record:
            continue
        meta, _, path = record.partition(b"\t")
        mode, kind, sha = meta.split()
        name = path.decode("utf-8", "surrogateescape")
        if kind == b"blob" and name.endswith((".yaml", ".yml")) and mode != b"120000":
            entries.append((name, sha.decode()))
    return [SourceFile(name, b"", sha) for name, sha in entries]


def read_blobs(files: list[SourceFile], wanted: set[str] | None = None, cwd: str | None = None) -> None:
    """Fill in the content of the blobs in `files` (only those whose key is in `wanted`, if given)
    with one `git cat-file --batch` process."""
    todo = [f for f in files if wanted is None or f.key in wanted]
    if not todo:
        return
    request = "".join(f"{f.key}\n" for f in todo).encode()
    out = subprocess.run(
        ["git", "cat-file", "--batch"], input=request, capture_output=True, cwd=cwd, check=False
    )
    if out.returncode != 0:
        raise SourceError(f"git cat-file failed: {out.stderr.decode(errors='replace').strip()}")
    data, offset = out.stdout, 0
    for source in todo:
        header_end = data.index(b"\n", offset)
        header = data[offset:header_end].split()
        size = int(header[2])
        start = header_end + 1
        source.data = data[start : start + min(size, MAX_FILE_BYTES + 1)]
        offset = start + size + 1


def _git(args: list[str], cwd: str | None) -> bytes:
    try:
        out = subprocess.run(["git", *args], capture_output=True, cwd=cwd, check=False)
    except FileNotFoundError:
        raise SourceError("git is not installed") from None
    if out.returncode != 0:
        message = out.stderr.decode(errors="replace").strip().splitlines()
        raise SourceError(f"git {args[0]}: {message[-1] if message else 'failed'}")
    return out.stdout
