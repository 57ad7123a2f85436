"""Where the CLI gets files: the working tree, or a git revision read without checking it out.

Every `SourceFile` carries a content key for the parse cache: the sha256 of the bytes for files
on disk, the blob SHA for files in git. Blob SHAs come from `git ls-tree` for free, so a cached
blob is never even read (`read_blobs` takes the keys still needed).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from rules.core.loader import MAX_FILE_BYTES, SourceFile
from rules.core.model import Skipped

_SKIP_DIRS = {".git", ".venv", "node_modules", "__pycache__"}
_YAML = (".yaml", ".yml")


class SourceError(Exception):
    """A path or revision the user named cannot be read."""


class UnreadableFile(SourceError):
    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path, self.reason = path, reason


def check_paths(paths: list[str]) -> None:
    """Fail before any work when a named path does not exist."""
    for name in paths:
        if not os.path.exists(name):
            raise SourceError(f"{name}: no such file or folder")


def from_paths(paths: list[str], unreadable: list[Skipped] | None = None) -> Iterator[SourceFile]:
    """YAML files under the given files and folders, with paths relative to where they were named.

    A file found in a folder that cannot be read (a dangling symlink, no permission) goes to
    `unreadable` as skipped, like any other file that cannot be analysed; a file named on the
    command line that cannot be read is the user's error (SourceError).
    """
    for name in paths:
        root = Path(name)
        if root.is_file():
            yield _read(str(root), root.as_posix())
        elif root.is_dir():
            for folder, dirs, files in os.walk(root):
                dirs[:] = sorted(d for d in dirs if d not in _SKIP_DIRS)
                for file in sorted(files):
                    if not file.endswith(_YAML):
                        continue
                    path = os.path.join(folder, file)
                    shown = os.path.normpath(path).replace(os.sep, "/")
                    try:
                        yield _read(path, shown)
                    except UnreadableFile as exc:
                        if unreadable is None:
                            raise
                        unreadable.append(Skipped(exc.path, exc.reason))
        elif os.path.exists(name):
            raise SourceError(f"{name}: not a file or folder")
        else:
            raise SourceError(f"{name}: no such file or folder")


def working_tree(paths: list[str], named: list[SourceFile]) -> tuple[list[SourceFile], Any]:
    """The snapshot a build may read (every file under the current folder, listed unread, the
    YAML files already read in `named` among them) and a test of whether a path lies under one
    of the named paths (only what the user named is analysed and reported).

    A kustomization named on the command line may use bases outside the named folder
    (`footgun check overlays/prod` with `resources: [../../base]`): those are in the snapshot.
    """
    by_path = {f.path: f for f in named}
    for folder, dirs, files in os.walk("."):
        dirs[:] = sorted(d for d in dirs if d not in _SKIP_DIRS)
        for file in files:
            shown = os.path.normpath(os.path.join(folder, file)).replace(os.sep, "/")
            if shown not in by_path and not os.path.islink(os.path.join(folder, file)):
                by_path[shown] = SourceFile(shown, b"")
    prefixes = []
    for name in paths:
        shown = os.path.normpath(name).replace(os.sep, "/")
        prefixes.append("" if shown == "." else shown)

    def within(path: str) -> bool:
        return any(
            not prefix or path == prefix or path.startswith(prefix + "/") for prefix in prefixes
        )

    return list(by_path.values()), within


def read_files(files: Iterable[SourceFile]) -> None:
    """Fill in the content and content key of working-tree files listed unread."""
    for source in files:
        try:
            read = _read(source.path, source.path)
        except UnreadableFile:
            continue
        source.data, source.key, source.size = read.data, read.key, read.size


def _read(path: str, shown: str) -> SourceFile:
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
            size = os.fstat(handle.fileno()).st_size if len(data) > MAX_FILE_BYTES else len(data)
    except OSError as exc:
        raise UnreadableFile(shown, f"cannot read it: {exc.strerror or exc}") from None
    return SourceFile(shown, data, hashlib.sha256(data).hexdigest(), size)


def resolve(revision: str, cwd: str | None = None) -> str:
    """The commit SHA a revision names; a one-line SourceError when there is none."""
    if revision.startswith("-"):
        raise SourceError(f"unknown revision '{revision}'")
    out = _run_git(["rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}"], cwd)
    if out.returncode == 0:
        return out.stdout.decode().strip()
    stderr = out.stderr.decode(errors="replace").lower()
    if "not a git repository" in stderr:
        raise SourceError("not a git repository (run footgun diff inside one)")
    raise SourceError(f"unknown revision '{revision}'")


def is_shallow(cwd: str | None = None) -> bool:
    """Whether the repository is a shallow clone (history cut off, as CI checkouts often are)."""
    out = _run_git(["rev-parse", "--is-shallow-repository"], cwd)
    return out.returncode == 0 and out.stdout.strip() == b"true"


def from_git(revision: str, cwd: str | None = None, every_file: bool = False) -> list[SourceFile]:
    """Every YAML blob of `revision` (every blob with `every_file`: builds read `.json` patches
    and generator files), keyed by blob SHA, content not yet read (see `read_blobs`).

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
        if kind == b"blob" and (every_file or name.endswith(_YAML)) and mode != b"120000":
            entries.append((name, sha.decode()))
    return [SourceFile(name, b"", sha) for name, sha in entries]


def read_blobs(
    files: Iterable[SourceFile], wanted: set[str] | None = None, cwd: str | None = None
) -> None:
    """Fill in the content of the blobs in `files` (only those whose key is in `wanted`, if given)
    with one `git cat-file --batch` process; each distinct blob is read once."""
    todo: dict[str, list[SourceFile]] = {}
    for source in files:
        if source.key and (wanted is None or source.key in wanted):
            todo.setdefault(source.key, []).append(source)
    if not todo:
        return
    request = "".join(f"{sha}\n" for sha in todo).encode()
    out = _run_git(["cat-file", "--batch"], cwd, request)
    if out.returncode != 0:
        raise SourceError(f"git cat-file failed: {out.stderr.decode(errors='replace').strip()}")
    data, offset = out.stdout, 0
    for sha, sources in todo.items():
        header_end = data.index(b"\n", offset)
        header = data[offset:header_end].split()
        if len(header) < 3 or header[1] == b"missing":
            raise SourceError(f"git object {sha} is missing")
        size = int(header[2])
        start = header_end + 1
        content = data[start : start + min(size, MAX_FILE_BYTES + 1)]
        for source in sources:
            source.data, source.size = content, size
        offset = start + size + 1


def git_output(args: list[str], cwd: str | None = None) -> bytes:
    """The output of `git ARGS`; its last error line as a SourceError when it fails."""
    return _git(args, cwd)


def _git(args: list[str], cwd: str | None) -> bytes:
    """The output of `git ARGS`; its last error line as a SourceError when it fails."""
    out = _run_git(args, cwd)
    if out.returncode != 0:
        message = out.stderr.decode(errors="replace").strip().splitlines()
        raise SourceError(f"git {args[0]}: {message[-1] if message else 'failed'}")
    return out.stdout


def _run_git(
    args: list[str], cwd: str | None, stdin: bytes | None = None
) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(
            ["git", *args], input=stdin, capture_output=True, cwd=cwd, check=False
        )
    except FileNotFoundError:
        raise SourceError("git is not installed") from None
