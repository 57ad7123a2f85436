"""The in-memory GitHub: installations, repositories, pull requests and what the bot writes."""

from __future__ import annotations

import itertools
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.fakegithub.git import FileChange, ObjectStore, file_changes

_KEYS: dict[str, tuple[str, str]] = {}


def key_pair(name: str = "app") -> tuple[str, str]:
    """(private PEM, public PEM), generated once per test session: RSA keygen is slow."""
    if name not in _KEYS:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        private = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        public = (
            key.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode()
        )
        _KEYS[name] = (private, public)
    return _KEYS[name]


@dataclass
class Installation:
    id: int
    account: str
    repos: set[str] = field(default_factory=set)


@dataclass
class Token:
    token: str
    installation: int
    expires_at: float
    actor: str | None = None
    """Who writes with it; None: the App's bot."""
    app: dict[str, Any] | None = None
    """The app its check runs belong to; None: the App."""
    permissions: dict[str, str] | None = None
    """What it may write (`checks`, `pull_requests`, ...: `write` or `read`); None: unchecked."""


GITHUB_ACTIONS_APP = {"id": 15368, "slug": "github-actions"}
"""The app behind a workflow's GITHUB_TOKEN: its check runs and comments carry this identity."""
WORKFLOW_PERMISSIONS = {"checks": "write", "pull_requests": "write", "contents": "read"}


@dataclass
class Pull:
    number: int
    repo: Repo
    head_repo: Repo
    base_sha: str
    head_sha: str
    base_ref: str = "main"
    head_ref: str = "feature"
    user: str = "author"
    title: str = "Change the mesh"
    state: str = "open"
    merged_at: float | None = None
    omit_patch: set[str] = field(default_factory=set)
    """Paths whose `patch` the files list leaves out (GitHub does so for large files)."""

    def changes(self) -> list[FileChange]:
        store = self.repo.store
        out = file_changes(store.files_of[self.base_sha], store.files_of[self.head_sha])
        for change in out:
            if change.path in self.omit_patch:
                change.patch = None
        return out


@dataclass
class Repo:
    full_name: str
    id: int
    store: ObjectStore
    fork_of: Repo | None = None
    default_branch: str = "main"
    permissions: dict[str, str] = field(default_factory=dict)
    pulls: dict[int, Pull] = field(default_factory=dict)
    issues: dict[int, dict[str, Any]] = field(default_factory=dict)
    labels: dict[str, dict[str, Any]] = field(default_factory=dict)
    branches: dict[str, str] = field(default_factory=dict)
    """Branch name -> commit SHA (`merge` moves the base branch to the merged head)."""

    @property
    def owner(self) -> str:
        return self.full_name.split("/")[0]

    def json(self) -> dict[str, Any]:
        owner, name = self.full_name.split("/")
        return {
            "id": self.id,
            "name": name,
            "full_name": self.full_name,
            "private": False,
            "owner": {"login": owner, "id": self.id * 10, "type": "User"},
            "fork": self.fork_of is not None,
            "default_branch": self.default_branch,
            "html_url": f"https://github.com/{self.full_name}",
        }


@dataclass
class Fault:
    """A failure to inject: the next `times` requests matching method and path get it."""

    method: str
    path: re.Pattern[str]
    status: int
    times: int
    headers: dict[str, str]
    body: dict[str, Any]
    after: int = 0
    """Matching requests to let through before failing."""
    late: float = 0.0
    """When positive, the request is carried out as usual and only its answer is held back this
    many seconds (over HTTP), or lost (through respx): a write GitHub made whose answer arrived
    after the client stopped waiting."""


@dataclass
class LoggedRequest:
    method: str
    path: str
    query: dict[str, str]
    status: int
    body: Any = None
    response: Any = field(default=None, repr=False)


class State:
    """Everything the fake knows. Tests build it through these helpers, then assert on it."""

    def __init__(
        self, app_id: int = 4242, slug: str = "istio-footguns", now: Callable[[], float] = time.time
    ):
        self.app_id = app_id
        self.slug = slug
        self.now = now
        self.private_key, self.public_key = key_pair()
        self.installations: dict[int, Installation] = {}
        self.repos: dict[str, Repo] = {}
        self.tokens: dict[str, Token] = {}
        self.check_runs: dict[int, dict[str, Any]] = {}
        self.reviews: dict[int, dict[str, Any]] = {}
        self.review_comments: dict[int, dict[str, Any]] = {}
        self.issue_comments: dict[int, dict[str, Any]] = {}
        self.reactions: list[dict[str, Any]] = []
        self.faults: list[Fault] = []
        self.log: list[LoggedRequest] = []
        self.tree_limit = 100_000
        """Entries a recursive tree returns before it says `truncated` (GitHub: 100,000)."""
        self._ids = itertools.count(1000)

    @property
    def bot_login(self) -> str:
        return f"{self.slug}[bot]"

    def next_id(self) -> int:
        return next(self._ids)

    # -- building the world -------------------------------------------------------------------

    def workflow_token(self, repo: str, permissions: dict[str, str] | None = None) -> str:
        """A GitHub Actions GITHUB_TOKEN for `repo`: it writes as `github-actions[bot]`, its
        check runs belong to the GitHub Actions app, and a write beyond `permissions` is 403
        (on a fork's pull request, GitHub makes every permission `read`)."""
        installation = Installation(self.next_id(), repo.split("/")[0], {repo})
        self.installations[installation.id] = installation
        self.repos.setdefault(repo, Repo(repo, self.next_id(), ObjectStore()))
        token = Token(
            "ghs_" + secrets.token_hex(18),
            installation.id,
            self.now() + 6 * 3600,
            actor="github-actions[bot]",
            app=GITHUB_ACTIONS_APP,
            permissions=dict(WORKFLOW_PERMISSIONS if permissions is None else permissions),
        )
        self.tokens[token.token] = token
        return token.token

    def install(self, account: str, *repos: str) -> int:
        installation = Installation(self.next_id(), account, set(repos))
        self.installations[installation.id] = installation
        for name in repos:
            self.repos.setdefault(name, Repo(name, self.next_id(), ObjectStore()))
        return installation.id

    def repo(self, full_name: str, fork_of: str | None = None) -> Repo:
        if full_name not in self.repos:
            parent = self.repos[fork_of] if fork_of else None
            store = parent.store if parent else ObjectStore()
            self.repos[full_name] = Repo(full_name, self.next_id(), store, parent)
        return self.repos[full_name]

    def commit(
        self,
        repo: str,
        files: dict[str, str | bytes],
        parent: str | None = None,
        message: str = "change",
    ) -> str:
        """A commit whose tree holds exactly `files` (None as a value deletes from the parent)."""
        store = self.repos[repo].store
        content = dict(store.files_of[parent]) if parent else {}
        for path, data in files.items():
            if data is None:
                content.pop(path, None)
            else:
                content[path] = data.encode() if isinstance(data, str) else data
        return store.put_commit(content, [parent] if parent else [], message)

    def receive_push(
        self, repo: str, sha: str, files: dict[str, bytes], parents: list[str] | None = None
    ) -> str:
        """A commit pushed from a local clone: GitHub then holds it under the same SHA."""
        return self.repos[repo].store.put_commit_as(sha, files, parents or [], "pushed")

    def open_pull(
        self, repo: str, base_sha: str, head_sha: str, head_repo: str | None = None, **extra: Any
    ) -> Pull:
        target = self.repos[repo]
        number = len(target.issues) + len(target.pulls) + 1
        pull = Pull(number, target, self.repos[head_repo or repo], base_sha, head_sha, **extra)
        target.pulls[number] = pull
        target.branches.setdefault(pull.base_ref, base_sha)
        return pull

    def merge(self, pull: Pull) -> str:
        """Merge `pull` (fast-forward: its base branch now points at its head); the new branch SHA."""
        pull.state, pull.merged_at = "closed", self.now()
        pull.repo.branches[pull.base_ref] = pull.head_sha
        return pull.head_sha

    def push_branch(
        self, repo: str, files: dict[str, str | bytes | None], branch: str | None = None
    ) -> str:
        """A commit on top of `branch` (default: the default branch), which then points at it."""
        target = self.repos[repo]
        branch = branch or target.default_branch
        sha = self.commit(repo, files, target.branches.get(branch), f"push to {branch}")
        target.branches[branch] = sha
        return sha

    def issues_of(self, repo: str, label: str | None = None) -> list[dict[str, Any]]:
        """Issues (not pull requests) of `repo`, with `label` if given."""
        target = self.repos[repo]
        return [
            i
            for number, i in sorted(target.issues.items())
            if label is None or label in target.labels.get(str(number), {})
        ]

    def push(self, pull: Pull, files: dict[str, str | bytes | None]) -> str:
        pull.head_sha = self.commit(pull.head_repo.full_name, files, pull.head_sha, "push")
        return pull.head_sha

    def fail(
        self,
        method: str,
        path: str,
        status: int = 502,
        times: int = 1,
        headers: dict[str, str] | None = None,
        message: str = "Server Error",
        after: int = 0,
    ) -> None:
        """Make `times` requests to `path` (a regex, matched in full) fail, after `after` pass."""
        self.faults.append(
            Fault(
                method.upper(),
                re.compile(path),
                status,
                times,
                headers or {},
                {"message": message},
                after,
            )
        )

    def timeout(self, method: str, path: str, times: int = 1) -> None:
        """Make the next `times` requests to `path` time out (no answer at all)."""
        self.fail(method, path, 0, times)

    def answer_late(self, method: str, path: str, seconds: float, times: int = 1) -> None:
        """Carry out the next `times` requests to `path`, then answer `seconds` late.

        GitHub does the write whatever happens to the connection afterwards: a client whose
        timeout is shorter sees a timeout, yet the review, comment or check run exists.
        """
        self.faults.append(Fault(method.upper(), re.compile(path), 0, times, {}, {}, late=seconds))

    def revoke_tokens(self, installation: int | None = None) -> list[str]:
        """Invalidate every installation token (of one installation), as GitHub does when a
        token is revoked (`DELETE /installation/token`) or the App's key is rotated; the tokens."""
        revoked = [
            t.token
            for t in self.tokens.values()
            if installation is None or t.installation == installation
        ]
        for token in revoked:
            del self.tokens[token]
        return revoked

    def secondary_rate_limit(
        self, method: str, path: str, retry_after: int = 60, status: int = 403
    ) -> None:
        self.fail(
            method,
            path,
            status,
            1,
            {"retry-after": str(retry_after)},
            "You have exceeded a secondary rate limit. Please wait a few minutes before "
            "you try again.",
        )

    # -- what tests assert on -----------------------------------------------------------------

    def requests(self, method: str | None = None, path: str | None = None) -> list[LoggedRequest]:
        """Logged requests, filtered by method and a path regex (searched)."""
        return [
            r
            for r in self.log
            if (method is None or r.method == method.upper())
            and (path is None or re.search(path, r.path))
        ]

    def runs_for(self, repo: str, head_sha: str) -> list[dict[str, Any]]:
        return [
            r for r in self.check_runs.values() if r["_repo"] == repo and r["head_sha"] == head_sha
        ]

    def comments_on(self, repo: str, number: int) -> list[dict[str, Any]]:
        return [
            c for c in self.review_comments.values() if c["_repo"] == repo and c["_pull"] == number
        ]

    def reviews_on(self, repo: str, number: int) -> list[dict[str, Any]]:
        return [r for r in self.reviews.values() if r["_repo"] == repo and r["_pull"] == number]
