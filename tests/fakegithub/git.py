"""Git objects as GitHub stores them: blobs, trees and commits with real git SHAs, and diffs.

SHAs are computed the way git does (`blob <size>\\0<data>`, binary tree entries), so code under
test that keys caches by blob SHA sees exactly what it would see on GitHub.
"""

from __future__ import annotations

import difflib
import hashlib
from dataclasses import dataclass, field


def blob_sha(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


@dataclass
class TreeEntry:
    name: str
    mode: str  # "100644" blob, "40000" tree
    sha: str

    @property
    def type(self) -> str:
        return "tree" if self.mode == "40000" else "blob"


@dataclass
class Commit:
    sha: str
    tree: str
    parents: list[str]
    message: str


@dataclass
class ObjectStore:
    """The objects of a repository network (a repository and its forks share one store)."""

    blobs: dict[str, bytes] = field(default_factory=dict)
    trees: dict[str, list[TreeEntry]] = field(default_factory=dict)
    commits: dict[str, Commit] = field(default_factory=dict)
    files_of: dict[str, dict[str, bytes]] = field(default_factory=dict)
    """Commit SHA -> {path: content}: the flat view diffs are computed from."""

    def put_blob(self, data: bytes) -> str:
        sha = blob_sha(data)
        self.blobs[sha] = data
        return sha

    def put_tree(self, files: dict[str, bytes]) -> str:
        """Store nested trees for a flat {path: content} mapping; returns the root tree SHA."""
        children: dict[str, dict[str, bytes]] = {}
        entries: list[TreeEntry] = []
        for path, data in files.items():
            head, sep, rest = path.partition("/")
            if sep:
                children.setdefault(head, {})[rest] = data
            else:
                entries.append(TreeEntry(head, "100644", self.put_blob(data)))
        for name, sub in children.items():
            entries.append(TreeEntry(name, "40000", self.put_tree(sub)))
        entries.sort(key=lambda e: e.name + ("/" if e.type == "tree" else ""))
        raw = b"".join(
            f"{e.mode} {e.name}".encode() + b"\0" + bytes.fromhex(e.sha) for e in entries
        )
        sha = hashlib.sha1(b"tree %d\0" % len(raw) + raw).hexdigest()
        self.trees[sha] = entries
        return sha

    def put_commit_as(
        self, sha: str, files: dict[str, bytes], parents: list[str], message: str
    ) -> str:
        """Store a commit made elsewhere (a local clone pushing) under its own SHA."""
        tree = self.put_tree(files)
        self.commits[sha] = Commit(sha, tree, parents, message)
        self.files_of[sha] = dict(files)
        return sha

    def put_commit(self, files: dict[str, bytes], parents: list[str], message: str) -> str:
        tree = self.put_tree(files)
        text = f"tree {tree}\n" + "".join(f"parent {p}\n" for p in parents)
        text += f"author fake <fake@example.com> {len(self.commits)} +0000\n\n{message}\n"
        raw = text.encode()
        sha = hashlib.sha1(b"commit %d\0" % len(raw) + raw).hexdigest()
        self.commits[sha] = Commit(sha, tree, parents, message)
        self.files_of[sha] = dict(files)
        return sha

    def walk(self, tree_sha: str, prefix: str = "") -> list[tuple[str, TreeEntry]]:
        """Every entry under a tree, depth first, with its full path (like `git ls-tree -r -t`)."""
        out = []
        for entry in self.trees[tree_sha]:
            path = prefix + entry.name
            out.append((path, entry))
            if entry.type == "tree":
                out.extend(self.walk(entry.sha, path + "/"))
        return out


@dataclass
class FileChange:
    """One file of a pull request, as the files list and the diff describe it."""

    path: str
    status: str  # added, modified, removed
    sha: str | None  # blob SHA at head (None when removed)
    additions: int
    deletions: int
    patch: str | None


def _lines(data: bytes) -> list[str]:
    return data.decode("utf-8", "replace").splitlines()


def file_changes(base: dict[str, bytes], head: dict[str, bytes]) -> list[FileChange]:
    """What changed from `base` to `head`, in path order, with unified-diff patches (3 lines of context)."""
    changes = []
    for path in sorted(set(base) | set(head)):
        old, new = base.get(path), head.get(path)
        if old == new:
            continue
        status = "added" if old is None else "removed" if new is None else "modified"
        try:
            a = (old or b"").decode("utf-8").splitlines()
            b = (new or b"").decode("utf-8").splitlines()
            binary = False
        except UnicodeDecodeError:
            a, b, binary = [], [], True
        body = list(difflib.unified_diff(a, b, n=3, lineterm=""))[2:]
        patch = None if binary or not body else "\n".join(body)
        changes.append(
            FileChange(
                path,
                status,
                blob_sha(new) if new is not None else None,
                sum(1 for line in body if line.startswith("+")),
                sum(1 for line in body if line.startswith("-")),
                patch,
            )
        )
    return changes


def unified_diff(changes: list[FileChange], base_files: dict[str, bytes]) -> str:
    """The `application/vnd.github.diff` text of a pull request."""
    parts = []
    for change in changes:
        old_sha = blob_sha(base_files[change.path])[:7] if change.path in base_files else "0000000"
        new_sha = (change.sha or "0000000")[:7]
        head = f"diff --git a/{change.path} b/{change.path}\n"
        if change.status == "added":
            head += f"new file mode 100644\nindex 0000000..{new_sha}\n--- /dev/null\n+++ b/{change.path}\n"
        elif change.status == "removed":
            head += f"deleted file mode 100644\nindex {old_sha}..0000000\n--- a/{change.path}\n+++ /dev/null\n"
        else:
            head += f"index {old_sha}..{new_sha} 100644\n--- a/{change.path}\n+++ b/{change.path}\n"
        if change.patch is None:
            parts.append(f"diff --git a/{change.path} b/{change.path}\nBinary files differ\n")
            continue
        parts.append(head + change.patch + "\n")
    return "".join(parts)


def right_side_lines(patch: str | None) -> set[int]:
    """Head-side line numbers a review comment may target: added and context lines of the hunks."""
    lines: set[int] = set()
    if not patch:
        return lines
    number = 0
    for line in patch.split("\n"):
        if line.startswith("@@"):
            number = int(line.split("+")[1].split(",")[0].split(" ")[0])
        elif line.startswith("-") or line.startswith("\\"):
            continue
        else:
            lines.add(number)
            number += 1
    return lines


def hunk_of(patch: str | None, line: int) -> int | None:
    """Index of the hunk whose head side contains `line` (multi-line comments must stay in one)."""
    if not patch:
        return None
    for index, hunk in enumerate(patch.split("\n@@")):
        if line in right_side_lines(hunk if index == 0 else "@@" + hunk):
            return index
    return None
