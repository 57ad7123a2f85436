"""A ready-made installation of the App on one repository, for tests of the GitHub side."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from tests.fakegithub.api import FakeGitHub
from tests.fakegithub.state import Pull

REPO = "acme/mesh"


@dataclass
class World:
    fake: FakeGitHub
    app: Any  # bot.github.client.GitHubApp
    installation_id: int
    repo: str = REPO

    @property
    def client(self) -> Any:
        return self.app.installation(self.installation_id)

    def pull(
        self,
        base: dict[str, str],
        head: dict[str, str | None],
        *,
        fork: str | None = None,
        **extra: Any,
    ) -> Pull:
        """A pull request whose base commit holds `base` and whose head changes it by `head`."""
        base_sha = self.fake.commit(self.repo, base)
        head_repo = self.repo
        if fork:
            self.fake.repo(fork, fork_of=self.repo)
            head_repo = fork
        head_sha = self.fake.commit(head_repo, head, base_sha)
        return self.fake.open_pull(self.repo, base_sha, head_sha, head_repo=head_repo, **extra)

    def run(self, coroutine: Any) -> Any:
        return asyncio.run(coroutine)


def make_world(respx_mock: Any, base_url: str = "https://api.github.com") -> World:
    from bot.github.client import GitHubApp

    fake = FakeGitHub(base_url)
    installation_id = fake.install("acme", REPO)
    fake.permissions = fake.repos[REPO].permissions
    fake.mock(respx_mock)
    app = GitHubApp(fake.app_id, fake.private_key, base_url, timeout=5, retry_delay=0)
    return World(fake, app, installation_id)


def virtual_service(name: str, fault: bool = False, namespace: str = "mesh") -> str:
    """A VirtualService manifest; with `fault`, its route injects HTTP 503 aborts (line 9)."""
    route = "  - fault: {abort: {httpStatus: 503}}\n    route:\n" if fault else "  - route:\n"
    host = f"{name}.{namespace}.svc.cluster.local"
    return (
        f"apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  name: {name}\n"
        f"  namespace: {namespace}\nspec:\n  hosts: [{host}]\n  http:\n{route}"
        f"    - destination: {{host: {host}}}\n"
    )


def job_context(world: World, pull: Pull, head_sha: str | None = None, attempts: int = 1) -> Any:
    """What the job queue hands the review handler (duck-typed: `.job.payload`, `.github`...)."""
    import logging
    from types import SimpleNamespace

    payload = {
        "installation_id": world.installation_id,
        "repository": world.repo,
        "pull_number": pull.number,
        "head_sha": head_sha or pull.head_sha,
        "base_sha": pull.base_sha,
        "reason": "synchronize",
    }
    return SimpleNamespace(
        settings=None,
        github=world.app,
        session_factory=None,
        sessions=None,
        job=SimpleNamespace(payload=payload, attempts=attempts),
        log=logging.getLogger("test.review"),
    )
