import pytest

from rules import yaml_invalid
from tests.helpers import assert_findings, findings_of, run

RULE = "yaml-invalid"

SERVICE = "apiVersion: v1\nkind: Service\nmetadata:\n  name: reviews\n  namespace: shop\n"


def test_examples():
    assert_findings(RULE, yaml_invalid.FAIL, (11, 1))
    assert_findings(RULE, yaml_invalid.PASS)


def test_the_finding_names_the_problem_and_the_file_stays_skipped():
    source = SERVICE + "spec:\n\tports: []\n"
    report = run({"svc.yaml": source})
    [finding] = [f for f in report.findings if f.rule == RULE]
    assert (finding.line, finding.column) == (7, 1)
    assert finding.message == (
        "File svc.yaml looks like a Kubernetes manifest but does not parse: a tab character where "
        "YAML needs spaces"
    )
    assert finding.resource.kind == "File" and finding.resource.name == "svc.yaml"
    assert [s.path for s in report.skipped] == ["svc.yaml"]


def test_a_later_document_is_reported_at_its_line_in_the_file():
    source = SERVICE + "---\n" + SERVICE + "spec:\n  ports: [\n"
    [finding] = findings_of(RULE, source)
    assert finding.line == 13


def test_duplicate_keys_do_not_parse():
    assert_findings(RULE, SERVICE + "  name: ratings\n", (6, 3))


def test_unrendered_placeholders_that_break_the_yaml_are_reported_with_a_hint():
    source = SERVICE + "  labels:\n${COMMON_LABELS}\n"
    [finding] = findings_of(RULE, source)
    assert (finding.line, finding.column) == (7, 1)
    assert "an unrendered ${...} placeholder?" in finding.message


def test_placeholders_that_parse_are_plain_values():
    assert_findings(RULE, SERVICE + "spec:\n  ports:\n  - port: ${PORT}\n")


HELM_TEMPLATE = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ include "app.fullname" . }}
data:
  start.sh: |
    export PATH=${HOME}/bin:$PATH
{{- if .Values.extra }}
  extra: {{ .Values.extra | quote }}
{{- end }}
  broken: [
"""


@pytest.mark.parametrize("path", ["chart/templates/configmap.yaml", "deploy/configmap.yaml"])
def test_a_helm_template_with_placeholders_stays_a_skipped_template(path):
    report = run({path: HELM_TEMPLATE})
    assert [f.rule for f in report.findings] == []
    assert [s.reason.split(":")[0] for s in report.skipped] == ["Helm template"]


@pytest.mark.parametrize(
    "text",
    [
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: {% if prod %}a{% endif %}\n  x: [\n",
        "apiVersion: v1\nkind: Service\nmetadata:\n%{ for n in names ~}\n  name: ${n}\n",
    ],
    ids=["jinja", "terraform"],
)
def test_other_templates_are_skipped_not_reported(text):
    report = run({"svc.yaml": text})
    assert [f.rule for f in report.findings if f.rule == RULE] == []
    assert [s.path for s in report.skipped] == ["svc.yaml"]


def test_broken_yaml_that_is_not_a_manifest_is_only_skipped():
    values = {"istiod-values.yaml": "meshConfig:\n  accessLogFile: [\n"}
    report = run(values)
    assert [f.rule for f in report.findings] == [] and len(report.skipped) == 1


def test_a_fixed_file_is_no_longer_new_when_broken_again_on_the_same_line():
    broken = SERVICE + "spec:\n\tports: []\n"
    [finding] = findings_of(RULE, broken, base=broken)
    assert finding.new is False
