"""A repository of Istio manifests, a pull request that adds a fault injection, and the signed
deliveries GitHub would send about it (built from the shared webhook examples, pointed at it)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tests.loopback import FakeServer
from tests.webhooks import payload

NAMESPACE = """\
apiVersion: v1
kind: Namespace
metadata:
  name: bookinfo
  labels:
    istio.io/rev: stable
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata:
  name: default
  namespace: istio-system
spec:
  mtls:
    mode: STRICT
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata:
  name: default
  namespace: bookinfo
spec:
  egress:
  - hosts:
    - "./*"
    - "istio-system/*"
"""

REVIEWS = """\
apiVersion: v1
kind: Service
metadata:
  name: reviews
  namespace: bookinfo
spec:
  selector:
    app: reviews
  ports:
  - name: http
    port: 9080
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: reviews
  namespace: bookinfo
spec:
  host: reviews.bookinfo.svc.cluster.local
  subsets:
  - name: v1
    labels:
      version: v1
  - name: v2
    labels:
      version: v2
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
  namespace: bookinfo
spec:
  hosts:
  - reviews.bookinfo.svc.cluster.local
  http:
  - route:
    - destination:
        host: reviews.bookinfo.svc.cluster.local
        subset: v1
"""

FAULT = """\
  - fault:
      abort:
        httpStatus: 503
        percentage:
          value: 10
    route:
"""
REVIEWS_WITH_FAULT = REVIEWS.replace("  - route:\n", FAULT)
FAULT_PATH = "mesh/reviews.yaml"
FAULT_LINES = (37, 42)
"""The finding sits on the first line of the `fault` block in REVIEWS_WITH_FAULT; the suggested
fix rewrites the block and the `route:` line after it into `- route:`."""
BASE_FILES = {"mesh/namespace.yaml": NAMESPACE, FAULT_PATH: REVIEWS}


@dataclass
class PullRef:
    """What the tests need to know about the seeded pull request."""

    repo: str
    repo_id: int
    installation_id: int
    number: int
    base_sha: str
    head_sha: str
    base_ref: str = "main"


def seed(
    server: FakeServer,
    repo: str,
    roles: dict[str, str] | None = None,
    head: dict[str, str] | None = None,
    base: dict[str, str] | None = None,
) -> PullRef:
    """Install the App on `repo`, commit the manifests (and `base`) on `main`, open a PR by
    `author` that adds the fault injection (or changes `head`)."""

    def build(fake: Any) -> PullRef:
        installation = fake.install(repo.split("/")[0], repo)
        fake.repos[repo].permissions.update({"author": "write", **(roles or {})})
        base_sha = fake.commit(repo, {**BASE_FILES, **(base or {})}, message="the mesh")
        head_sha = fake.commit(
            repo, head or {FAULT_PATH: REVIEWS_WITH_FAULT}, base_sha, "inject faults"
        )
        pull = fake.open_pull(
            repo, base_sha, head_sha, user="author", title="Chaos drill for reviews"
        )
        return PullRef(repo, fake.repos[repo].id, installation, pull.number, base_sha, head_sha)

    return server.call(build)


def push(server: FakeServer, ref: PullRef, files: dict[str, str | None]) -> str:
    """A new commit on the PR's branch; its SHA (also set on `ref`)."""

    def build(fake: Any) -> str:
        pull = fake.repos[ref.repo].pulls[ref.number]
        return fake.push(pull, files)

    ref.head_sha = server.call(build)
    return ref.head_sha


def _repository(ref: PullRef) -> dict[str, Any]:
    owner, name = ref.repo.split("/")
    return {
        "installation.id": ref.installation_id,
        "repository.id": ref.repo_id,
        "repository.name": name,
        "repository.full_name": ref.repo,
        "repository.owner.login": owner,
    }


def pull_request_event(
    ref: PullRef,
    example: str,
    updated_at: str,
    *,
    head_sha: str | None = None,
    state: str = "open",
    merged_at: str | None = None,
) -> dict[str, Any]:
    """`pull_request` example `example` (e.g. "pull_request.opened") about the seeded PR."""
    repository = _repository(ref)
    side = {"repo.id": ref.repo_id, "repo.full_name": ref.repo, "repo.name": ref.repo.split("/")[1]}
    changes = {
        **repository,
        "number": ref.number,
        "pull_request.number": ref.number,
        "pull_request.state": state,
        "pull_request.updated_at": updated_at,
        "pull_request.head.sha": head_sha or ref.head_sha,
        "pull_request.head.ref": "chaos-drill",
        "pull_request.base.sha": ref.base_sha,
        "pull_request.base.ref": ref.base_ref,
        "pull_request.merged": merged_at is not None,
        "pull_request.merged_at": merged_at,
        **{f"pull_request.head.{k}": v for k, v in side.items()},
        **{f"pull_request.base.{k}": v for k, v in side.items()},
    }
    return payload(example, **changes)


def repository_event(ref: PullRef, example: str, **changes: Any) -> dict[str, Any]:
    """Any example, pointed at the seeded repository and installation (dotted-path `changes`)."""
    return payload(example, **_repository(ref), **changes)


def check_run_event(ref: PullRef, example: str, head_sha: str) -> dict[str, Any]:
    """A `check_run` example on `head_sha`; `pull_requests` stays empty, as for a fork's PR."""
    return payload(
        example,
        **_repository(ref),
        **{
            "check_run.head_sha": head_sha,
            "check_run.name": "Istio footguns",
            "check_run.pull_requests": [],
            "check_run.check_suite.head_sha": head_sha,
        },
    )


def issue_comment_event(
    ref: PullRef, comment: dict[str, Any], association: str = "MEMBER"
) -> dict[str, Any]:
    """`issue_comment.created` for `comment`, written in the PR's conversation by someone whose
    `author_association` is `association`."""
    login = comment["user"]["login"]
    return payload(
        "issue_comment.created.on-pull-request",
        **_repository(ref),
        **{
            "issue.number": ref.number,
            "comment.id": comment["id"],
            "comment.body": comment["body"],
            "comment.user.login": login,
            "comment.user.type": "User",
            "comment.author_association": association,
            "comment.html_url": comment["html_url"],
            "comment.created_at": comment["created_at"],
            "comment.updated_at": comment["updated_at"],
            "sender.login": login,
            "sender.type": "User",
        },
    )
