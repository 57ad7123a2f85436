"""The Action's outputs as pure functions: the job summary under GitHub's 1 MiB, SARIF under
code scanning's 5,000 results, annotations under 10 per level, most important first."""

from __future__ import annotations

from bot.cli.output.github import to_github
from bot.cli.output.sarif import sarif_log
from bot.cli.output.summary import MAX_BYTES, to_summary
from rules.core.engine import Report
from rules.core.model import Finding, ResourceRef


def finding(i: int, severity: str = "error", new: bool = True, waived: bool = False) -> Finding:
    return Finding(
        "fault-injection",
        severity,  # type: ignore[arg-type]
        f"VirtualService mesh/vs{i} route 1 injects HTTP 503 aborts " + "x" * 200,
        f"mesh/vs{i:05}.yaml",
        10,
        5,
        ResourceRef("VirtualService", "mesh", f"vs{i}"),
        f"{i:040x}",
        new=new,
        waived=waived,
    )


def link(path: str, line: int | None) -> str:
    return f"https://github.com/acme/mesh/blob/{'a' * 40}/{path}" + (f"#L{line}" if line else "")


def test_the_summary_stays_under_1_mib_and_says_what_it_left_out():
    report = Report([finding(i) for i in range(6000)])
    text = to_summary(report, compared=True, link=link)
    assert len(text.encode("utf-8")) <= MAX_BYTES
    listed = text.count("\n- :x: ")
    assert 1000 < listed < 6000
    assert text.rstrip().endswith(
        f"{6000 - listed} more not listed here. The step's log and "
        "`footgun check --format json` have every finding._"
    )


def test_the_summary_budget_counts_what_the_step_already_wrote():
    report = Report([finding(i) for i in range(50)])
    small = to_summary(report, compared=True, link=link, limit=4000)
    assert len(small.encode("utf-8")) <= 4000 and "more not listed here" in small


def test_the_summary_puts_files_with_new_errors_first():
    report = Report(
        [finding(1, new=False), finding(2, severity="warning"), finding(3), finding(4, waived=True)]
    )
    text = to_summary(report, compared=True, link=link)
    order = [line for line in text.splitlines() if line.startswith("### ")]
    assert [line.split("]")[0] for line in order] == [
        "### [mesh/vs00003.yaml",
        "### [mesh/vs00002.yaml",
        "### [mesh/vs00001.yaml",
        "### [mesh/vs00004.yaml",
    ]
    assert "**1 new error, 1 new warning** in this change (1 already at base, 1 waived)." in text


def test_sarif_keeps_the_5000_most_important_results_and_says_so():
    findings = [finding(i, severity="warning") for i in range(5003)] + [finding(9999)]
    log = sarif_log(Report(findings), compared=True, category="deploy/prod")
    [run] = log["runs"]
    assert len(run["results"]) == 5000
    assert run["results"][0]["level"] == "error"  # the one error is kept, first
    assert run["automationDetails"] == {"id": "deploy/prod/"}
    [note] = run["invocations"][0]["toolExecutionNotifications"]
    assert note["message"]["text"].startswith("4 more results were left out")


def test_sarif_without_truncation_has_no_note():
    run = sarif_log(Report([finding(1)]))["runs"][0]
    assert "invocations" not in run and "automationDetails" not in run


def test_annotations_keep_new_errors_before_new_warnings_and_old_findings():
    findings = [finding(i, new=False) for i in range(12)]
    findings += [finding(100 + i, severity="warning") for i in range(12)]
    findings += [finding(200 + i) for i in range(3)]
    lines = to_github(Report(findings), compared=True).splitlines()
    errors = [line for line in lines if line.startswith("::error")]
    warnings = [line for line in lines if line.startswith("::warning")]
    notices = [line for line in lines if line.startswith("::notice")]
    assert [e.split(",")[0] for e in errors] == [
        f"::error file=mesh/vs{200 + i:05}.yaml" for i in range(3)
    ]
    assert len(warnings) == 10 and len(notices) == 10
    assert notices[-1].startswith("::notice title=footgun%3A more findings::")
    # 2 warnings and 3 of the 12 old findings (one notice gave way to the note) did not fit.
    assert "::notice title=footgun%3A more findings::5 more not shown" in notices[-1]
    assert lines[lines.index("::group::footgun: 5 more") + 1].startswith(
        "mesh/vs00009.yaml:10:5: notice: VirtualService mesh/vs9 "
    )


def test_the_review_change_set_is_the_pull_requests_diff(tmp_path, monkeypatch):
    """From git as GitHub shows a pull request: against the merge base, renames followed,
    and the head-side lines of each hunk (where an inline comment may go)."""
    from bot.cli.review import local_change
    from bot.github.changeset import PullRequest
    from tests.cli_support import CLEAN, FAULTY, GitRepo

    repo = GitRepo(tmp_path)
    monkeypatch.chdir(tmp_path)
    base = repo.commit({"mesh/a.yaml": CLEAN, "mesh/gone.yaml": CLEAN.replace("ratings", "x")})
    repo.git("checkout", "-q", "-b", "feature")
    repo.write({"mesh/gone.yaml": None})
    repo.git("mv", "mesh/a.yaml", "mesh/b.yaml")
    head = repo.commit({"mesh/b.yaml": FAULTY})
    repo.git("checkout", "-q", "main")
    later = repo.commit({"mesh/other.yaml": CLEAN})  # the base branch moved on
    change = local_change(PullRequest("acme/mesh", 1, head, later, "acme/mesh"))
    assert {(f.path, f.status, f.previous_path) for f in change.files} == {
        ("mesh/b.yaml", "renamed", "mesh/a.yaml"),
        ("mesh/gone.yaml", "removed", None),
    }
    assert change.changed_paths == {"mesh/b.yaml"}
    assert {10, 11, 12, 13, 14} <= change.diff_lines["mesh/b.yaml"]
    assert "mesh/other.yaml" not in change.diff_lines
    assert base != later


def test_paths_outside_the_repository_are_refused():
    import pytest

    from bot.cli.action import ActionError, wanted_paths

    assert wanted_paths(["."]) is None
    wanted = wanted_paths(["./mesh/", "deploy"])
    assert wanted is not None and wanted("mesh/a.yaml") and not wanted("meshes/a.yaml")
    with pytest.raises(ActionError, match="outside the repository"):
        wanted_paths(["../secrets"])
