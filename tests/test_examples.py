"""The bundled examples are the first thing a new user runs: they must show every rule."""

import json
import os
import subprocess
import sys
from pathlib import Path

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
