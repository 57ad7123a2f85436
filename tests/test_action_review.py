"""`footgun review` against the fake GitHub on loopback, as a workflow step runs it: the
workflow's token, the event payload, a checkout holding the same commits as GitHub.

Run twice in a row (a re-run of the workflow), nothing is posted twice. A fork's pull request
and a token without write permissions fall back to the annotations and the summary.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.action_runner import parse_file_commands
from tests.cli_support import CLEAN, FAULTY, GitRepo, only
from tests.helpers import FIXTURES
from tests.loopback import FOOTGUN, FakeServer

PULL_EVENT = FIXTURES / "github-webhooks" / "pull_request.opened.payload.json"
REPO = "acme/mesh"
CONFIG = ".github/footgun.yml"

pytestmark = pytest.mark.e2e


@pytest.fixture
def server():
    with FakeServer() as running:
        running.call(lambda fake: fake.repo(REPO))
        yield running


class Checkout:
    """A local repository whose commits are also on the fake GitHub, and its pull request."""

    def __init__(self, root: Path, server: FakeServer):
        self.root, self.server = root, server
        self.dir = root / "checkout"
        self.dir.mkdir()
        self.repo = GitRepo(self.dir)

    def commit(self, files: dict[str, str | None], parent: str | None) -> str:
        sha = self.repo.commit(files)
        tree = self._files(sha)
        self.server.call(
            lambda fake: fake.receive_push(REPO, sha, tree, [parent] if parent else [])
        )
        return sha

    def _files(self, sha: str) -> dict[str, bytes]:
        names = self.repo.git("ls-tree", "-r", "--name-only", sha).split("\n")
        return {
            name: subprocess.run(
                ["git", "show", f"{sha}:{name}"], cwd=self.dir, capture_output=True, check=True
            ).stdout
            for name in names
            if name
        }

    def pull_request(self, fork: str | None = None) -> dict:
        self.base = self.commit(
            {
                CONFIG: only("fault-injection"),
                "mesh/clean.yaml": CLEAN,
                "mesh/old.yaml": FAULTY.replace("ratings", "old"),
            },
            None,
        )
        self.head = self.commit({"mesh/vs.yaml": FAULTY}, self.base)
        head_repo = fork or REPO

        def open_pull(fake):
            if fork:
                fake.repo(fork, fork_of=REPO)
            return fake.open_pull(REPO, self.base, self.head, head_repo=head_repo).number

        self.number = self.server.call(open_pull)
        event = json.loads(PULL_EVENT.read_text())
        pull = event["pull_request"]
        event["number"] = pull["number"] = self.number
        pull["base"]["sha"], pull["head"]["sha"] = self.base, self.head
        pull["base"]["repo"]["full_name"] = REPO
        pull["base"]["repo"]["html_url"] = f"https://github.com/{REPO}"
        pull["head"]["repo"]["full_name"] = head_repo
        (self.root / "event.json").write_text(json.dumps(event))
        return event

    def review(self, token: str) -> tuple[int, str, dict[str, str], str]:
        outputs, summary = self.root / "outputs", self.root / "summary"
        outputs.write_text("")
        summary.write_text("")
        env = {
            **os.environ,
            "GITHUB_ACTIONS": "true",
            "GITHUB_EVENT_NAME": "pull_request",
            "GITHUB_EVENT_PATH": str(self.root / "event.json"),
            "GITHUB_REPOSITORY": REPO,
            "GITHUB_SERVER_URL": "https://github.com",
            "GITHUB_API_URL": self.server.url,
            "GITHUB_TOKEN": token,
            "GITHUB_OUTPUT": str(outputs),
            "GITHUB_STEP_SUMMARY": str(summary),
            "XDG_CACHE_HOME": str(self.root / "cache"),
        }
        done = subprocess.run(
            [FOOTGUN, "review"], cwd=self.dir, env=env, capture_output=True, text=True, timeout=120
        )
        assert token not in done.stdout + done.stderr
        return (
            done.returncode,
            done.stdout + done.stderr,
            parse_file_commands(outputs.read_text()),
            summary.read_text(),
        )


@pytest.fixture
def checkout(tmp_path, server):
    if not PULL_EVENT.exists():
        pytest.skip("the GitHub webhook fixtures are not available")
    return Checkout(tmp_path, server)


def writes(server: FakeServer) -> list[tuple[str, str]]:
    return server.call(
        lambda fake: [(r.method, r.path) for r in fake.log if r.method in ("POST", "PATCH")]
    )


def test_review_posts_once_and_a_rerun_reposts_nothing(checkout, server):
    checkout.pull_request()
    token = server.call(lambda fake: fake.workflow_token(REPO))

    code, out, outputs, summary = checkout.review(token)
    assert code == 1, out  # the change adds an error, as `footgun diff` says
    runs = server.call(lambda fake: fake.runs_for(REPO, checkout.head))
    [run] = runs
    assert (run["name"], run["status"], run["conclusion"]) == (
        "Istio footguns",
        "completed",
        "failure",
    )
    assert run["app"]["slug"] == "github-actions"
    assert [a["path"] for a in run["_annotations"]] == ["mesh/vs.yaml"]
    comments = server.call(lambda fake: fake.comments_on(REPO, checkout.number))
    [comment] = comments
    # On the fault's lines (10 to 15), with the App's suggestion to delete them.
    assert (comment["path"], comment["start_line"], comment["user"]["login"]) == (
        "mesh/vs.yaml",
        10,
        "github-actions[bot]",
    )
    assert "`fault-injection`" in comment["body"] and "```suggestion" in comment["body"]
    assert len(server.call(lambda fake: fake.reviews_on(REPO, checkout.number))) == 1
    assert outputs["review"].startswith(
        "posted: check run `Istio footguns`: failure; review: 1 inline"
    )
    assert "**Inline review posted**" in summary

    before = len(writes(server))
    code, out, outputs, _ = checkout.review(token)
    assert code == 1, out
    again = writes(server)[before:]
    # The re-run finds its check run and updates it; no review, comment or run is created.
    assert [method for method, _ in again] == ["PATCH"] * len(again)
    assert len(server.call(lambda fake: fake.runs_for(REPO, checkout.head))) == 1
    assert len(server.call(lambda fake: fake.comments_on(REPO, checkout.number))) == 1
    assert len(server.call(lambda fake: fake.reviews_on(REPO, checkout.number))) == 1
    assert outputs["review"].startswith(
        "posted: check run `Istio footguns`: failure; review: 0 inline"
    )


def test_a_fork_pull_request_falls_back_and_says_why(checkout, server):
    checkout.pull_request(fork="someone/mesh")
    token = server.call(
        lambda fake: fake.workflow_token(REPO, {"checks": "read", "pull_requests": "read"})
    )
    code, out, outputs, summary = checkout.review(token)
    assert code == 1
    assert writes(server) == []
    assert (
        "::notice title=footgun review::No inline review: the pull request comes from a fork (someone/mesh)"
        in out
    )
    assert outputs["review"].startswith("skipped: the pull request comes from a fork")
    assert "The findings are in the annotations and the job summary." in summary


def test_a_token_without_write_permission_falls_back_on_the_first_403(checkout, server):
    checkout.pull_request()
    token = server.call(lambda fake: fake.workflow_token(REPO, {"contents": "read"}))
    code, out, outputs, _ = checkout.review(token)
    assert code == 1
    assert server.call(lambda fake: fake.runs_for(REPO, checkout.head)) == []
    assert "Resource not accessible by integration" in outputs["review"]
    assert "`permissions: {pull-requests: write, checks: write}`" in outputs["review"]
    assert "::notice title=footgun review::No inline review: GitHub refused the token" in out


def test_review_outside_a_pull_request_is_a_usage_error(checkout, server, tmp_path):
    (tmp_path / "event.json").write_text(json.dumps({"ref": "refs/heads/main"}))
    code, out, _, _ = checkout.review("unused")
    assert code == 2
    assert "footgun review needs a pull_request event" in out


def test_the_action_posts_the_review_on_github_enterprise_server(
    checkout, server, tmp_path_factory
):
    """action.yml end to end with `review: true`: the API under GHES's `/api/v3` prefix
    (GITHUB_API_URL), the workflow's token from the `token` input's default."""
    from tests.action_runner import ActionRunner, action_checkout, default_env
    from tests.test_action import setup_python

    checkout.pull_request()
    token = server.call(lambda fake: fake.workflow_token(REPO))
    action_path, tool_cache = action_checkout(tmp_path_factory.getbasetemp())
    temp = checkout.root / "runner-temp"
    temp.mkdir()
    env = default_env(
        checkout.dir,
        temp,
        tool_cache,
        GITHUB_EVENT_NAME="pull_request",
        GITHUB_EVENT_PATH=str(checkout.root / "event.json"),
        GITHUB_REPOSITORY=REPO,
        GITHUB_SERVER_URL=server.url.removesuffix("/api/v3"),
        GITHUB_API_URL=server.url,
        GITHUB_SHA=checkout.head,
    )
    runner = ActionRunner(
        checkout.dir,
        action_path,
        temp,
        env,
        {"token": token},
        {"actions/setup-python": setup_python},
    )
    run = runner.run({"review": "true"})
    assert run.step("review").code == 0, run.step("review").stderr
    assert run.outputs["review"].startswith("posted: check run `Istio footguns`: failure")
    assert run.code == 1 and run.outputs["failed"] == "true"
    assert "**Inline review posted**" in run.summary
    [comment] = server.call(lambda fake: fake.comments_on(REPO, checkout.number))
    assert comment["user"]["login"] == "github-actions[bot]"

    rerun = runner.run({"review": "true"})
    assert rerun.outputs["review"].startswith("posted: check run `Istio footguns`: failure")
    assert len(server.call(lambda fake: fake.comments_on(REPO, checkout.number))) == 1
    assert len(server.call(lambda fake: fake.reviews_on(REPO, checkout.number))) == 1
    assert len(server.call(lambda fake: fake.runs_for(REPO, checkout.head))) == 1
