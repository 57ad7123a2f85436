"""`footgun check`: formats, exit codes, config handling, one-line errors."""

from __future__ import annotations

import json
import os

import pytest

from tests.cli_support import CLEAN, FAULT_AT, FAULTY, only, run_cli, run_subprocess


@pytest.fixture(autouse=True)
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("NO_COLOR", raising=False)
    (tmp_path / "mesh").mkdir()
    return tmp_path


def write(workdir, files: dict[str, str]) -> None:
    for path, text in files.items():
        target = workdir / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)


def test_clean_manifests_exit_0(workdir, capsys):
    write(workdir, {"mesh/vs.yaml": CLEAN, ".github/footgun.yml": only("fault-injection")})
    result = run_cli(capsys, "check", "mesh")
    assert result.code == 0
    assert result.out.splitlines()[-1] == "0 errors, 0 warnings"


def test_unwaived_error_exits_1_and_text_groups_by_file(workdir, capsys):
    write(
        workdir,
        {
            "mesh/a.yaml": FAULTY,
            "mesh/b.yaml": CLEAN,
            "mesh/c.yaml": FAULTY.replace("ratings", "reviews"),
            ".github/footgun.yml": only("fault-injection"),
        },
    )
    result = run_cli(capsys, "check", "mesh")
    assert result.code == 1
    lines = result.out.splitlines()
    assert lines[0] == "mesh/a.yaml"
    assert lines[1].split()[:2] == ["10:5", "error"]
    assert lines[1].endswith("[fault-injection]")
    assert (
        "VirtualService bookinfo/ratings route 1 injects HTTP 503 aborts into 10% of requests"
        in lines[1]
    )
    assert lines[3] == "mesh/c.yaml"
    assert lines[-1] == "2 errors, 0 warnings"
    assert "\033[" not in result.out  # not a terminal: no colour


def test_json_report_follows_the_documented_schema(workdir, capsys):
    write(workdir, {"mesh/vs.yaml": FAULTY, ".github/footgun.yml": only("fault-injection")})
    result = run_cli(capsys, "check", "--format", "json", "mesh")
    assert result.code == 1
    document = result.json
    # DESIGN, second round: `notes` and each finding's `target` (null for plain files)
    assert set(document) == {"version", "findings", "skipped", "notes", "counts"}
    assert document["version"] == 1
    assert document["notes"] == []
    [finding] = document["findings"]
    assert set(finding) == {
        "rule",
        "severity",
        "message",
        "path",
        "line",
        "column",
        "resource",
        "fingerprint",
        "new",
        "waived",
        "target",
    }
    assert finding["target"] is None
    assert (finding["path"], finding["line"], finding["column"]) == ("mesh/vs.yaml", *FAULT_AT)
    assert finding["resource"] == {
        "kind": "VirtualService",
        "namespace": "bookinfo",
        "name": "ratings",
    }
    assert (finding["rule"], finding["severity"], finding["new"], finding["waived"]) == (
        "fault-injection",
        "error",
        True,
        False,
    )
    assert document["counts"] == {"error": 1, "warning": 0, "new": 1}
    assert document["skipped"] == []


def test_github_format_prints_workflow_commands(workdir, capsys):
    write(workdir, {"mesh/vs.yaml": FAULTY, ".github/footgun.yml": only("fault-injection")})
    result = run_cli(capsys, "check", "--format", "github", "mesh")
    assert result.code == 1
    first = result.out.splitlines()[0]
    assert first.startswith("::error file=mesh/vs.yaml,line=10,col=5,title=fault-injection::")
    assert first.endswith("HTTP 503 aborts into 10%25 of requests")


def test_sarif_format_exit_code_and_location(workdir, capsys):
    write(workdir, {"mesh/vs.yaml": FAULTY, ".github/footgun.yml": only("fault-injection")})
    result = run_cli(capsys, "check", "--format", "sarif", "mesh")
    assert result.code == 1
    [sarif_result] = result.json["runs"][0]["results"]
    region = sarif_result["locations"][0]["physicalLocation"]["region"]
    assert (region["startLine"], region["startColumn"]) == FAULT_AT


def test_warnings_alone_exit_0(workdir, capsys):
    write(workdir, {"mesh/vs.yaml": FAULTY, "cfg.yml": only("fault-injection", setting="warning")})
    result = run_cli(capsys, "check", "--config", "cfg.yml", "--format", "json", "mesh")
    assert result.code == 0
    assert result.json["counts"] == {"error": 0, "warning": 1, "new": 1}


def test_default_config_file_is_read_and_can_switch_a_rule_off(workdir, capsys):
    write(
        workdir, {"mesh/vs.yaml": FAULTY, ".github/footgun.yml": "rules:\n  fault-injection: off\n"}
    )
    result = run_cli(capsys, "check", "--format", "json", "mesh")
    assert [f["rule"] for f in result.json["findings"]].count("fault-injection") == 0


def test_config_option_overrides_the_default_file(workdir, capsys):
    write(
        workdir,
        {
            "mesh/vs.yaml": FAULTY,
            ".github/footgun.yml": "rules:\n  fault-injection: off\n",
            "strict.yml": only("fault-injection"),
        },
    )
    assert run_cli(capsys, "check", "--config", "strict.yml", "mesh").code == 1


def test_config_waiver_marks_the_finding_and_exits_0(workdir, capsys):
    waive = (
        "waive:\n- rule: fault-injection\n  target: VirtualService/bookinfo/ratings\n"
        "  until: 2999-12-31\n  reason: chaos test\n"
    )
    write(workdir, {"mesh/vs.yaml": FAULTY, ".github/footgun.yml": only("fault-injection", waive)})
    result = run_cli(capsys, "check", "mesh")
    assert result.code == 0
    assert "(waived until 2999-12-31)" in result.out.splitlines()[1]
    assert result.out.splitlines()[-1] == "0 errors, 0 warnings, 1 waived"
    assert (
        run_cli(capsys, "check", "--format", "json", "mesh").json["findings"][0]["waived"] is True
    )


def test_unknown_config_key_is_a_one_line_error_naming_it(workdir, capsys):
    write(workdir, {"mesh/vs.yaml": FAULTY, "bad.yml": "rulez:\n  fault-injection: off\n"})
    result = run_cli(capsys, "check", "--config", "bad.yml", "mesh")
    assert result.code == 2
    assert result.out == ""
    assert len(result.err.splitlines()) == 1
    assert "unknown key 'rulez'" in result.err and result.err.startswith("footgun: bad.yml")


def test_unknown_rule_in_config_is_exit_2(workdir, capsys):
    write(workdir, {".github/footgun.yml": "rules:\n  fault-injections: off\n"})
    result = run_cli(capsys, "check", "mesh")
    assert result.code == 2
    assert "unknown rule 'fault-injections' (did you mean fault-injection?)" in result.err


def test_missing_config_file_is_exit_2(workdir, capsys):
    result = run_cli(capsys, "check", "--config", "nope.yml", "mesh")
    assert (result.code, result.err) == (2, "footgun: nope.yml: no such config file\n")


def test_missing_path_is_exit_2_with_nothing_on_stdout(workdir, capsys):
    write(workdir, {"mesh/vs.yaml": FAULTY})
    result = run_cli(capsys, "check", "mesh", "missing")
    assert (result.code, result.out, result.err) == (
        2,
        "",
        "footgun: missing: no such file or folder\n",
    )


def test_usage_errors_are_one_line_exit_2(workdir, capsys):
    result = run_cli(capsys, "check", "--format", "yaml")
    assert result.code == 2
    assert len(result.err.splitlines()) == 1
    assert "invalid choice: 'yaml'" in result.err
    assert run_cli(capsys).code == 2


def test_skipped_files_are_listed_with_reasons_and_do_not_fail(workdir, capsys):
    write(
        workdir,
        {
            "mesh/vs.yaml": CLEAN,
            "mesh/broken.yaml": "kind: VirtualService\nspec: [unclosed\n",
            ".github/footgun.yml": only("fault-injection"),
        },
    )
    result = run_cli(capsys, "check", "mesh")
    assert result.code == 0
    assert "Skipped files" in result.out
    assert "  mesh/broken.yaml: invalid YAML at line 3, column 1" in result.out
    assert result.out.splitlines()[-1] == "0 errors, 0 warnings, 1 file skipped"
    document = run_cli(capsys, "check", "--format", "json", "mesh").json
    assert [s["path"] for s in document["skipped"]] == ["mesh/broken.yaml"]


def test_default_path_is_the_current_folder(workdir, capsys):
    write(workdir, {"mesh/vs.yaml": FAULTY, ".github/footgun.yml": only("fault-injection")})
    result = run_cli(capsys, "check", "--format", "json")
    assert [f["path"] for f in result.json["findings"]] == ["mesh/vs.yaml"]


def test_parse_cache_is_written_and_reused_unless_disabled(workdir, capsys, monkeypatch):
    write(workdir, {"mesh/vs.yaml": FAULTY, ".github/footgun.yml": only("fault-injection")})
    run_cli(capsys, "check", "--no-cache", "mesh")
    assert not (workdir / "cache").exists()
    first = run_cli(capsys, "check", "--format", "json", "mesh")
    entries = list((workdir / "cache" / "footgun").glob("v*/*"))
    assert len(entries) == 1

    import rules.core.loader

    def no_parsing(*args, **kwargs):
        raise AssertionError("a cached file was parsed again")

    monkeypatch.setattr(rules.core.loader, "parse_file", no_parsing)
    second = run_cli(capsys, "check", "--format", "json", "mesh")
    assert second.json == first.json


def test_real_process_exit_codes_and_one_line_error(workdir):
    (workdir / "mesh" / "vs.yaml").write_text(FAULTY)
    (workdir / "cfg.yml").write_text(only("fault-injection"))
    assert run_subprocess("check", "--config", "cfg.yml", "mesh", cwd=workdir).code == 1
    (workdir / "bad.yml").write_text("default_namespace: Not_A_Namespace\n")
    result = run_subprocess("check", "--config", "bad.yml", "mesh", cwd=workdir)
    assert result.code == 2
    assert (
        result.err
        == "footgun: bad.yml: default_namespace must be a namespace name, got 'Not_A_Namespace'\n"
    )


def test_colour_only_when_asked(workdir):
    from bot.cli.formats import render_report
    from tests.helpers import run

    report = run(FAULTY, cfg=only("fault-injection"))
    assert "\033[1;31merror" in render_report(report, "text", color=True)
    assert "\033[" not in render_report(report, "text", color=False)
    assert json.loads(render_report(report, "json"))["counts"]["error"] == 1


def test_check_does_not_import_the_app_stack(workdir):
    """Startup time counts: the analysis commands must not pay for the web and database stack."""
    import subprocess
    import sys
    from pathlib import Path

    (workdir / "mesh" / "vs.yaml").write_text(FAULTY)
    probe = (
        "import sys\n"
        "from bot.cli.main import main\n"
        "main(['check', '--no-cache', '--format', 'sarif', 'mesh'])\n"
        "heavy = {'starlette', 'sqlalchemy', 'githubkit', 'httpx', 'uvicorn', 'alembic', 'pydantic',\n"
        "         'pydantic_settings', 'prometheus_client', 'ruamel', 'asyncpg', 'aiosqlite'}\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & heavy))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=workdir,
        capture_output=True,
        text=True,
        env={
            "PYTHONPATH": str(Path(__file__).resolve().parents[1]),
            "PATH": "/usr/bin:/bin",
            "XDG_CACHE_HOME": str(workdir / "cache"),
        },
        timeout=120,
    )
    assert out.stdout.splitlines()[-1] == "[]", out.stderr


def many_files(workdir, count: int = 40) -> None:
    for index in range(count):
        name = f"vs{index:02d}"
        text = FAULTY if index % 7 == 0 else CLEAN
        (workdir / "mesh" / f"{name}.yaml").write_text(
            text.replace("name: ratings", f"name: {name}")
        )
    (workdir / ".github").mkdir(exist_ok=True)
    (workdir / ".github" / "footgun.yml").write_text(only("fault-injection"))


def test_cold_cache_is_parsed_on_two_cores_with_the_same_result(workdir, capsys, monkeypatch):
    from bot.cli import two_cores

    many_files(workdir)
    expected = run_cli(capsys, "check", "--format", "json", "--no-cache", "mesh").json
    monkeypatch.setattr(two_cores, "_usable_cores", lambda: 2)
    assert run_cli(capsys, "check", "--format", "json", "mesh").json == expected
    entries = list((workdir / "cache" / "footgun").glob("v*/[0-9a-f]*"))
    assert len(entries) == 40
    assert len(list(expected["findings"])) == 6


def test_a_failing_parse_child_changes_nothing(workdir, capsys, monkeypatch):
    import rules.core.loader
    from bot.cli import two_cores

    many_files(workdir)
    expected = run_cli(capsys, "check", "--format", "json", "--no-cache", "mesh").json
    parent, parse_file = os.getpid(), rules.core.loader.parse_file

    def fails_in_the_child(*args, **kwargs):
        if os.getpid() != parent:
            raise RuntimeError("child failure")
        return parse_file(*args, **kwargs)

    monkeypatch.setattr(two_cores, "_usable_cores", lambda: 2)
    monkeypatch.setattr(rules.core.loader, "parse_file", fails_in_the_child)
    assert run_cli(capsys, "check", "--format", "json", "mesh").json == expected


def test_an_unreadable_file_in_a_folder_is_skipped_with_the_reason(workdir, capsys):
    write(workdir, {"mesh/vs.yaml": FAULTY, ".github/footgun.yml": only("fault-injection")})
    os.symlink(workdir / "gone.yaml", workdir / "mesh" / "dangling.yaml")
    result = run_cli(capsys, "check", "--format", "json", "mesh")
    assert result.json["skipped"] == [
        {"path": "mesh/dangling.yaml", "reason": "cannot read it: No such file or directory"}
    ]
    assert [f["path"] for f in result.json["findings"]] == ["mesh/vs.yaml"]
    assert result.code == 1
