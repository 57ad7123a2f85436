"""Every registered rule documents itself and proves its own examples: docs cannot drift."""

import pytest

import rules as registry
from rules.core.model import SEVERITIES
from tests.helpers import render_run, run

RULES = sorted(registry.RULES.values(), key=lambda m: m.ID)


@pytest.mark.parametrize("rule", RULES, ids=lambda m: m.ID)
def test_rule_module_is_named_after_its_id_and_documents_itself(rule):
    assert rule.__name__ == "rules." + rule.ID.replace("-", "_")
    assert rule.SEVERITY in SEVERITIES
    for text in (rule.SUMMARY, rule.WHY, rule.FIX, rule.__doc__):
        assert isinstance(text, str) and text.strip()
    assert rule.KINDS and isinstance(rule.OPTIONS, dict)


def example(rule, text: str):
    """The report on an example: as a manifest, or (`RENDERED` rules) as a kustomization beside
    the manifest it lists (a Deployment without Istio in it)."""
    base = getattr(rule, "BASE", None)
    if getattr(rule, "RENDERED", False):
        deployment = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: app}\n"
        return render_run({"app/kustomization.yaml": text, "app/deployment.yaml": deployment})
    return run({"example.yaml": text}, base=base and {"example.yaml": base})


@pytest.mark.parametrize("rule", RULES, ids=lambda m: m.ID)
def test_fail_example_fires_and_pass_example_is_clean(rule):
    if getattr(rule, "RENDERED", False) and _no_kustomize():
        pytest.skip("kubectl or kustomize is needed to build the PASS example")
    failing = [f for f in example(rule, rule.FAIL).findings if f.rule == rule.ID]
    passing = [f for f in example(rule, rule.PASS).findings if f.rule == rule.ID]
    assert failing, f"{rule.ID}: its FAIL example does not trigger it"
    assert passing == [], f"{rule.ID}: its PASS example triggers it: {passing}"
    assert all(f.line >= 1 for f in failing)


def test_unknown_rule_is_refused_by_name():
    with pytest.raises(KeyError, match="unknown rule 'no-such-rule'"):
        registry.get("no-such-rule")


def _no_kustomize() -> bool:
    import shutil

    return shutil.which("kubectl") is None and shutil.which("kustomize") is None


@pytest.mark.parametrize("rule", RULES, ids=lambda m: m.ID)
def test_messages_name_the_resource_as_kind_namespace_name(rule):
    report = example(rule, rule.FAIL)
    for finding in (f for f in report.findings if f.rule == rule.ID):
        ref = finding.resource
        named = (
            f"{ref.kind} {ref.name}"
            if ref.namespace is None
            else (f"{ref.kind} {ref.namespace}/{ref.name}")
        )
        assert named in finding.message, finding.message
