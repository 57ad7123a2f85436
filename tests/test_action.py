"""The GitHub Action, run as a runner runs it: action.yml's scripts in order, on a repository
with a fault added, with the event payload, step summary and output files the runner gives.

The install step really installs the action's own checkout (a copy of this repository) into a
virtualenv, once for the module: later runs find it in the tool cache, as a self-hosted runner
would.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.action_runner import (
    ActionRunner,
    action_checkout,
    default_env,
    load_action,
    run_scripts,
)
from tests.cli_support import CLEAN, FAULTY, GitRepo, only
from tests.helpers import FIXTURES

WEBHOOKS = FIXTURES / "github-webhooks"
PULL_EVENT = WEBHOOKS / "pull_request.opened.payload.json"
CONFIG = ".github/footgun.yml"
REPO = "acme/mesh"


def test_no_expression_inside_a_run_script():
    """Script injection: `${{ }}` in `run:` is pasted into the script before bash reads it."""
    scripts = run_scripts(load_action())
    assert scripts, "action.yml has no run steps"
    offenders = [step for step, script in scripts if "${{" in script]
    assert offenders == []


def test_every_input_reaches_a_step():
    action = load_action()
    text = json.dumps(action["runs"]["steps"])
    unused = [name for name in action["inputs"] if f"inputs.{name}" not in text]
    assert unused == []


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    return action_checkout(tmp_path_factory.getbasetemp())


def setup_python(with_: dict[str, str]) -> dict[str, str]:
    """actions/setup-python with `update-environment: false`: only the interpreter's path."""
    assert with_["update-environment"] == "false", "setup-python must leave the job's PATH alone"
    assert re.fullmatch(r"3\.\d+", with_["python-version"])
    return {"python-path": sys.executable, "python-version": with_["python-version"]}


class Job:
    """One workflow job on a temporary repository: a base commit, a head adding a fault, and
    the merge commit actions/checkout checks out for a pull request."""

    def __init__(self, root: Path, action_path: Path, tool_cache: Path):
        self.root = root
        self.repo_dir = root / "workspace"
        self.repo_dir.mkdir()
        self.repo = GitRepo(self.repo_dir)
        self.temp = root / "runner-temp"
        self.temp.mkdir()
        self.action_path = action_path
        self.tool_cache = tool_cache

    def pull_request(self, base: dict[str, str | None], head: dict[str, str | None]) -> dict:
        """Commits `base`, then `head` on a branch, then checks out their merge; the event."""
        self.base_sha = self.repo.commit(base, "base")
        self.repo.git("checkout", "-q", "-b", "feature")
        self.head_sha = self.repo.commit(head, "change")
        self.repo.git("checkout", "-q", "--detach", self.base_sha)
        self.repo.git("merge", "-q", "--no-ff", "-m", "Merge feature", "feature")
        self.merge_sha = self.repo.git("rev-parse", "HEAD").strip()
        event = json.loads(PULL_EVENT.read_text())
        pull = event["pull_request"]
        pull["base"]["sha"], pull["head"]["sha"] = self.base_sha, self.head_sha
        for side in ("base", "head"):
            pull[side]["repo"]["full_name"] = REPO
            pull[side]["repo"]["html_url"] = f"https://github.com/{REPO}"
        event["repository"]["full_name"] = REPO
        return event

    def runner(self, event_name: str, event: dict, sha: str) -> ActionRunner:
        event_path = self.root / "event.json"
        event_path.write_text(json.dumps(event))
        env = default_env(
            self.repo_dir,
            self.temp,
            self.tool_cache,
            GITHUB_EVENT_NAME=event_name,
            GITHUB_EVENT_PATH=str(event_path),
            GITHUB_REPOSITORY=REPO,
            GITHUB_SERVER_URL="https://github.com",
            GITHUB_API_URL="https://api.github.com",
            GITHUB_SHA=sha,
        )
        return ActionRunner(
            self.repo_dir,
            self.action_path,
            self.temp,
            env,
            {"token": "ghs_unused"},
            {"actions/setup-python": setup_python},
        )


@pytest.fixture
def job(tmp_path, installed):
    if not PULL_EVENT.exists():
        pytest.skip("the GitHub webhook fixtures are not available")
    return Job(tmp_path, *installed)


def base_files() -> dict[str, str | None]:
    return {
        CONFIG: only("fault-injection"),
        "mesh/clean.yaml": CLEAN,
        "mesh/old.yaml": FAULTY.replace("ratings", "old"),
    }


def test_pull_request_with_a_fault_added(job):
    event = job.pull_request(base_files(), {"mesh/vs.yaml": FAULTY})
    run = job.runner("pull_request", event, job.merge_sha).run({"sarif": "true"})

    assert run.step("install").code == 0, run.step("install").stderr
    analyse = run.step("analyse")
    assert analyse.code == 0, analyse.stderr
    # The new fault is an error on its line; the base's own fault only a notice.
    assert run.annotations() == [
        "::error file=mesh/vs.yaml,line=10,col=5,title=fault-injection::VirtualService "
        "bookinfo/ratings route 1 injects HTTP 503 aborts into 10%25 of requests",
        "::notice file=mesh/old.yaml,line=10,col=5,title=fault-injection (already at base)::"
        "VirtualService bookinfo/old route 1 injects HTTP 503 aborts into 10%25 of requests",
    ]
    # The job fails in the last step, after the (here: switched off) review.
    assert run.step("review").outputs == {"review": "off"}
    assert run.steps[-1].id == "verdict" and run.code == 1
    assert "the findings fail this job (fail-on: error)" in run.steps[-1].stderr

    assert run.outputs["new-errors"] == "1"
    assert run.outputs["errors"] == "2"
    assert run.outputs["findings"] == "2"
    assert run.outputs["failed"] == "true"

    summary = run.summary
    assert summary.startswith("## Istio footguns\n")
    assert "**1 new error, 0 new warnings** in this change (1 already at base)." in summary
    link = f"https://github.com/{REPO}/blob/{job.merge_sha}/mesh/vs.yaml"
    # The file with the new error comes first, its finding linked to its line.
    assert summary.index(f"### [mesh/vs.yaml]({link})") < summary.index("### [mesh/old.yaml]")
    assert f"- :x: [line 10]({link}#L10) `fault-injection`" in summary
    assert "_(new)_" in summary and "_(already at base)_" in summary

    sarif = json.loads(Path(run.outputs["sarif-file"]).read_text())
    [sarif_run] = sarif["runs"]
    assert sarif_run["automationDetails"] == {"id": "istio-footguns/"}
    assert [r["baselineState"] for r in sarif_run["results"]] == ["new", "unchanged"]


def test_fail_on_never_reports_without_failing(job):
    event = job.pull_request(base_files(), {"mesh/vs.yaml": FAULTY})
    run = job.runner("pull_request", event, job.merge_sha).run({"fail-on": "never"})
    assert run.code == 0
    assert run.outputs["failed"] == "false" and run.outputs["new-errors"] == "1"
    assert run.outputs["sarif-file"] == ""
    assert any(a.startswith("::error file=mesh/vs.yaml") for a in run.annotations())


def test_fail_on_warning_fails_on_a_new_warning(job):
    config = only("fault-injection", setting="warning")
    event = job.pull_request({**base_files(), CONFIG: config}, {"mesh/vs.yaml": FAULTY})
    runner = job.runner("pull_request", event, job.merge_sha)
    assert runner.run({}).code == 0
    warned = runner.run({"fail-on": "warning"})
    assert warned.code == 1 and warned.outputs["new-warnings"] == "1"


def test_push_checks_the_whole_checkout(job):
    job.repo.commit(base_files(), "base")
    sha = job.repo.commit({"mesh/vs.yaml": FAULTY}, "push")
    event = {"ref": "refs/heads/main", "after": sha, "repository": {"full_name": REPO}}
    run = job.runner("push", event, sha).run({})
    # No base to compare with: every unwaived error counts.
    assert run.outputs["new-errors"] == "2" and run.outputs["failed"] == "true"
    assert [a.split(",")[0] for a in run.annotations()] == [
        "::error file=mesh/old.yaml",
        "::error file=mesh/vs.yaml",
    ]
    assert "**2 errors, 0 warnings**." in run.summary
    assert run.code == 1


def test_paths_narrow_what_a_pull_request_is_judged_on(job):
    event = job.pull_request(base_files(), {"other/vs.yaml": FAULTY})
    run = job.runner("pull_request", event, job.merge_sha).run({"paths": "mesh/"})
    assert run.code == 0 and run.outputs["new-errors"] == "0"


def test_a_shallow_checkout_is_told_to_fetch_the_history(job, tmp_path):
    event = job.pull_request(base_files(), {"mesh/vs.yaml": FAULTY})
    shallow = tmp_path / "shallow"
    subprocess.run(
        ["git", "clone", "-q", "--depth", "1", f"file://{job.repo_dir}", str(shallow)],
        check=True,
    )
    job.repo_dir = shallow
    runner = job.runner("pull_request", event, job.merge_sha)
    runner.workspace = shallow
    run = runner.run({})
    assert run.step("analyse").code == 2
    assert run.code == 2
    [annotation] = run.annotations()
    assert annotation.startswith("::error title=footgun::the base commit")
    assert "(a shallow clone)" in annotation and "`fetch-depth: 0`" in annotation


def test_annotations_are_capped_and_the_summary_lists_everything(job):
    faults = {f"mesh/vs{i:02}.yaml": FAULTY.replace("ratings", f"r{i:02}") for i in range(14)}
    event = job.pull_request(base_files(), faults)
    run = job.runner("pull_request", event, job.merge_sha).run({})
    annotations = run.annotations()
    errors = [a for a in annotations if a.startswith("::error")]
    assert len(errors) == 10
    assert [e.split(",")[0] for e in errors] == [
        f"::error file=mesh/vs{i:02}.yaml" for i in range(10)
    ]
    [more] = [a for a in annotations if "more not shown" in a]
    assert more.startswith("::notice title=footgun%3A more findings::4 more not shown")
    log = run.step("analyse").stdout
    assert "mesh/vs13.yaml:10:5: error:" in log
    for i in range(14):
        assert f"### [mesh/vs{i:02}.yaml]" in run.summary
    assert run.outputs["new-errors"] == "14"


def test_inputs_are_data_not_code(job):
    event = job.pull_request(base_files(), {"mesh/vs.yaml": FAULTY})
    run = job.runner("pull_request", event, job.merge_sha).run(
        {"paths": "mesh/$(touch pwned) mesh/", "sarif": "true", "sarif-category": "x`touch pwned`"}
    )
    assert not (job.repo_dir / "pwned").exists()
    assert run.step("analyse").code == 0 and run.outputs["new-errors"] == "1"
    sarif = json.loads(Path(run.outputs["sarif-file"]).read_text())
    assert sarif["runs"][0]["automationDetails"] == {"id": "x`touch pwned`/"}


def test_pull_request_content_cannot_write_markdown_into_the_summary(job):
    hostile = FAULTY.replace("name: ratings", "name: '@acme/admins <img src=x> [x](y)'")
    event = job.pull_request(base_files(), {"mesh/vs.yaml": hostile})
    summary = job.runner("pull_request", event, job.merge_sha).run({}).summary
    # GitHub renders a backslash-escaped character as itself, and finds no mention behind a
    # zero-width space: the name shows as written and does nothing.
    assert "@acme/admins" not in summary and "[x](y)" not in summary
    assert "<img" not in summary.replace("\\<img", "")
    assert "@\u200bacme/admins \\<img src=x\\> \\[x\\](y)" in summary


def test_the_config_input_is_read_at_the_base_commit(job):
    """A pull request that switches the rule off in the config it is judged by changes
    nothing: the file is read as the base commit holds it."""
    switched_off = "rules:\n  fault-injection: off\n"
    event = job.pull_request(
        {**base_files(), "ci/footgun.yml": only("fault-injection")},
        {"mesh/vs.yaml": FAULTY, "ci/footgun.yml": switched_off},
    )
    runner = job.runner("pull_request", event, job.merge_sha)
    run = runner.run({"config": "ci/footgun.yml"})
    assert run.outputs["new-errors"] == "1" and run.code == 1
    missing = runner.run({"config": "ci/new.yml"})
    assert "The config file `ci/new.yml` is not in the base commit" in missing.summary
