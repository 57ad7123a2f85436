import pytest

from tests.helpers import assert_findings, run

VS = """\
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: ratings
  namespace: bookinfo
spec:
  hosts: [ratings.bookinfo.svc.cluster.local]
  http:
{routes}
"""
ROUTE = "  - route:\n    - destination: {{host: ratings.bookinfo.svc.cluster.local, subset: {subset}}}\n"


def faults(report):
    """This rule's findings only: the short hosts in these examples are other rules' business."""
    return [f for f in report.findings if f.rule == "fault-injection"]


def vs(*routes: str) -> str:
    return VS.format(routes="".join(routes))


def test_abort_is_flagged_with_percentage_and_status():
    source = vs(
        "  - fault:\n      abort:\n        percentage: {value: 10}\n        httpStatus: 503\n"
        "    route:\n    - destination: {host: ratings}\n"
    )
    report = run(source)
    [finding] = faults(report)
    assert (finding.line, finding.column) == (9, 5)
    assert "HTTP 503 aborts into 10% of requests" in finding.message
    assert finding.resource.namespace == "bookinfo"


@pytest.mark.parametrize(
    "fault, expected",
    [
        ("delay: {fixedDelay: 7s, percentage: {value: 0}}", "a 7s delay into 0% of requests"),
        ("delay: {fixedDelay: 2s}", "a 2s delay into 100% of requests"),
        ("abort: {grpcStatus: UNAVAILABLE}", "gRPC UNAVAILABLE aborts"),
    ],
)
def test_each_fault_kind_is_described(fault, expected):
    source = vs(f"  - fault: {{{fault}}}\n    route:\n    - destination: {{host: ratings}}\n")
    assert_findings("fault-injection", source, (9, 5))
    assert expected in faults(run(source))[0].message


def test_empty_fault_and_no_fault_are_not_flagged():
    assert_findings("fault-injection", vs("  - fault: {}\n" + ROUTE.format(subset="v1")[3:]))
    assert_findings("fault-injection", vs(ROUTE.format(subset="v1")))


def test_one_finding_per_faulty_route():
    fault = "  - fault: {abort: {httpStatus: 500}}\n    route:\n    - destination: {host: a}\n"
    assert_findings(
        "fault-injection",
        vs(fault, ROUTE.format(subset="v1"), fault.replace("a}", "b}")),
        (9, 5),
        (14, 5),
    )


def test_inserting_a_route_above_an_old_fault_does_not_make_it_new():
    fault = "  - fault: {abort: {httpStatus: 500}}\n    route:\n    - destination: {host: a}\n"
    base = vs(fault)
    head = vs(ROUTE.format(subset="v2"), fault)
    [finding] = faults(run(head, base))
    assert finding.new is False


def test_added_fault_is_new_in_a_diff():
    fault = "  - fault: {abort: {httpStatus: 500}}\n    route:\n    - destination: {host: a}\n"
    [finding] = faults(run(vs(fault), vs(ROUTE.format(subset="v1"))))
    assert finding.new is True


def test_suggested_edit_removes_the_fault_block():
    source = vs(
        "  - fault:\n      abort:\n        httpStatus: 503\n    route:\n    - destination: {host: a}\n"
    )
    [finding] = faults(run(source))
    assert (finding.edit.start_line, finding.edit.end_line) == (9, 12)
    assert finding.edit.replacement == "  - route:"


def test_suggested_edit_for_a_fault_after_other_keys():
    source = vs(
        "  - name: chaos\n    fault:\n      abort:\n        httpStatus: 503\n    route:\n    - destination: {host: a}\n"
    )
    [finding] = faults(run(source))
    assert (finding.edit.start_line, finding.edit.end_line, finding.edit.replacement) == (
        10,
        12,
        "",
    )
    assert "route 'chaos'" in finding.message
