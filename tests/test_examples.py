"""The bundled examples are the first thing a new user runs: they must show every rule."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import rules as registry
from bot.cli.main import main

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
BASE_RULES = {rule_id for rule_id, module in registry.RULES.items() if hasattr(module, "BASE")}


def check(capsys, path) -> tuple[int, dict]:
    code = main(["check", str(path), "--format", "json"])
    return code, json.loads(capsys.readouterr().out)


def test_every_rule_that_judges_a_state_fires_on_the_footguns(capsys):
    code, report = check(capsys, EXAMPLES / "footguns")
    fired = {f["rule"] for f in report["findings"]}
    assert fired == set(registry.RULES) - BASE_RULES
    assert code == 1 and [s["path"] for s in report["skipped"]] == [
        str(EXAMPLES / "footguns" / "canary.yaml")
    ]


def test_the_clean_part_of_the_examples_shows_nothing(capsys):
    code, report = check(capsys, EXAMPLES / "clean")
    assert (code, report["findings"], report["skipped"]) == (0, [], [])


def test_the_diff_demo_shows_the_rules_that_judge_a_change():
    footgun = Path(sys.executable).with_name("footgun")
    out = subprocess.run(
        [str(EXAMPLES / "demo-diff.sh"), "--format", "json"],
        capture_output=True,
        text=True,
        env={**os.environ, "FOOTGUN": str(footgun)},
        check=False,
    )
    assert out.returncode == 1, out.stderr
    new = {f["rule"] for f in json.loads(out.stdout)["findings"] if f["new"]}
    assert new == BASE_RULES | {"permissive-mtls"}


def test_the_readme_says_which_rules_the_examples_show_and_which_need_the_diff_demo():
    import re

    import rules as registry

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    quickstart = readme.split("## What it catches")[0]
    base_rules = sorted(rule_id for rule_id, m in registry.RULES.items() if hasattr(m, "BASE"))
    shown_by_demo = re.search(
        r"compare a change with\s+its base \(([^)]*)\) are shown by", quickstart
    )
    assert shown_by_demo, "the Quickstart no longer says which rules examples/demo-diff.sh shows"
    assert sorted(re.findall(r"`([a-z-]+)`", shown_by_demo[1])) == base_rules


def test_make_examples_reports_the_footguns_without_a_make_error():
    """`make run` checks the examples first: their findings are the point, so make must not print
    `Error 1 (ignored)` as if something had failed."""
    import shutil

    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    root = Path(__file__).resolve().parents[1]
    bin_dir = Path(sys.executable).parent
    ran = subprocess.run(
        ["make", "--no-print-directory", "-o", f"{bin_dir}/footgun", f"BIN={bin_dir}", "examples"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "Error" not in ran.stderr and "[fault-injection]" in ran.stdout
