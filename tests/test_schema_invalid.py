"""schema-invalid: what the CRD schema rejects or prunes, with the message and the position."""

from __future__ import annotations

import pytest

from rules import schema_invalid
from tests.helpers import assert_findings, findings_of

RULE = "schema-invalid"


def vs(spec: str, api: str = "networking.istio.io/v1") -> str:
    return (
        f"apiVersion: {api}\nkind: VirtualService\n"
        "metadata:\n  name: reviews\n  namespace: bookinfo\n"
        f"spec:\n{spec}"
    )


ROUTE = """\
  hosts: [reviews.bookinfo.svc.cluster.local]
  http:
  - route:
    - destination:
        host: reviews.bookinfo.svc.cluster.local
"""


def messages(text: str, cfg: str = "") -> list[tuple[int, int, str]]:
    return [(f.line, f.column, f.message) for f in findings_of(RULE, text, cfg=cfg)]


def only(text: str, cfg: str = "") -> tuple[int, int, str]:
    found = messages(text, cfg)
    assert len(found) == 1, found
    return found[0]


def test_examples():
    assert_findings(RULE, schema_invalid.FAIL, (7, 3), (12, 5))
    assert_findings(RULE, schema_invalid.PASS)


def test_unknown_field_names_the_closest_known_one_at_its_key():
    line, column, message = only(vs(ROUTE + "    timout: 5s\n"))
    assert (line, column) == (12, 5)
    assert message.startswith("VirtualService bookinfo/reviews: unknown field `timout` in ")
    assert "`spec.http[0]`" in message
    assert "(did you mean `timeout`?)" in message
    assert "drops it" in message


def test_unknown_field_deep_in_a_list():
    line, column, message = only(vs(ROUTE + "        subsett: v2\n"))
    assert (line, column) == (12, 9)
    assert "`spec.http[0].route[0].destination`" in message
    assert "did you mean `subset`?" in message


def test_unknown_top_level_and_metadata_fields():
    text = vs(ROUTE).replace("  namespace: bookinfo\n", "  namespace: bookinfo\n  lables: {}\n")
    text += "specs: {}\n"
    found = messages(text)
    assert [(line, column) for line, column, _ in found] == [(6, 3), (13, 1)]
    assert "unknown field `lables` in `metadata` (did you mean `labels`?)" in found[0][2]
    assert "unknown top-level field `specs` (did you mean `spec`?)" in found[1][2]


def test_wrong_type_string_for_a_list():
    line, column, message = only(vs("  hosts: reviews\n"))
    assert (line, column) == (7, 3)
    assert message.endswith("`spec.hosts` must be a list, not a string (`reviews`)")


@pytest.mark.parametrize(
    ("value", "said"),
    [
        ("5", "the whole number 5"),
        ("true", "the boolean true"),
        ("[5s]", "a list"),
    ],
)
def test_wrong_type_for_a_string(value, said):
    _, _, message = only(vs(ROUTE + f"    timeout: {value}\n"))
    assert message.endswith(f"`spec.http[0].timeout` must be a string, not {said}")


def test_label_values_must_be_strings():
    text = vs(ROUTE).replace(
        "  namespace: bookinfo\n", "  namespace: bookinfo\n  labels:\n    version: 1.0\n"
    )
    line, column, message = only(text)
    assert (line, column) == (7, 5)
    assert "`metadata.labels.version` must be a string; quote the value" in message


def test_value_outside_the_enum_suggests_the_closest():
    text = (
        "apiVersion: security.istio.io/v1\nkind: PeerAuthentication\n"
        "metadata: {name: default, namespace: bookinfo}\n"
        "spec:\n  mtls:\n    mode: STRICTT\n"
    )
    line, column, message = only(text)
    assert (line, column) == (6, 5)
    assert message.endswith(
        "`spec.mtls.mode` is `STRICTT`, which is not one of UNSET, DISABLE, PERMISSIVE, STRICT "
        "(did you mean `STRICT`?)"
    )


@pytest.mark.parametrize("value", ["5sec", "1d", "PT5S", "5 s", "abc"])
def test_invalid_duration(value):
    line, column, message = only(vs(ROUTE + f"    timeout: {value}\n"))
    assert (line, column) == (12, 5)
    assert "not a duration: must be a valid duration greater than 1ms" in message


@pytest.mark.parametrize("value", ["5s", "1h30m", "1.5s", "250ms", "1500us", "0.001s", "2h0m0.5s"])
def test_valid_durations(value):
    assert messages(vs(ROUTE + f"    timeout: {value}\n")) == []


def test_duration_below_the_minimum():
    _, _, message = only(vs(ROUTE + "    timeout: 500us\n"))
    assert message.endswith(
        "`spec.http[0].timeout` is `500us`: must be a valid duration greater than 1ms"
    )


def service_entry(port: str) -> str:
    return (
        "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\n"
        "metadata: {name: se, namespace: bookinfo}\n"
        "spec:\n  hosts: [api.example.com]\n  resolution: DNS\n  ports:\n"
        f"  - number: {port}\n    name: https\n    protocol: TLS\n"
    )


@pytest.mark.parametrize("port", ["0", "70000"])
def test_port_out_of_range(port):
    line, column, message = only(service_entry(port))
    assert (line, column) == (8, 5)
    assert message.endswith(f"`spec.ports[0].number` is {port}: port must be between 1-65535")


def test_port_in_range():
    assert messages(service_entry("8443")) == []


def test_gateway_port_is_bounded_only_as_its_schema_says():
    # Istio's Gateway CRD declares `port.number` as a uint32 without a range rule: the API
    # server's schema accepts 70000; the rule says only what the CRD says.
    text = (
        "apiVersion: networking.istio.io/v1\nkind: Gateway\n"
        "metadata: {name: gw, namespace: istio-system}\n"
        "spec:\n  selector: {istio: ingressgateway}\n  servers:\n"
        "  - port: {number: 70000, name: http, protocol: HTTP}\n    hosts: ['*']\n"
    )
    assert messages(text) == []
    assert "must be a whole number" in only(text.replace("70000", "'80'"))[2]


def authz(spec: str) -> str:
    return (
        "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\n"
        "metadata: {name: p, namespace: bookinfo}\n"
        f"spec:\n{spec}"
    )


def test_selector_and_target_refs_exclude_each_other():
    text = authz(
        "  selector:\n    matchLabels: {app: reviews}\n"
        "  targetRefs:\n  - {kind: Gateway, group: gateway.networking.k8s.io, name: gw}\n"
    )
    line, column, message = only(text)
    assert (line, column) == (7, 3)  # the second of the two
    assert message.endswith(
        "`spec` sets `selector` and `targetRefs`: only one of targetRefs or selector can be set"
    )


def test_istio_one_of_fields_exclude_each_other():
    text = vs(
        "  hosts: [reviews.bookinfo.svc.cluster.local]\n  http:\n  - match:\n"
        "    - uri: {exact: /a, prefix: /b}\n"
        "    route:\n    - destination: {host: reviews.bookinfo.svc.cluster.local}\n"
    )
    line, _, message = only(text)
    assert line == 10
    assert "`spec.http[0].match[0].uri` sets `exact` and `prefix`" in message


def test_missing_required_field():
    text = vs("  hosts: [a.b.svc.cluster.local]\n  http:\n  - route:\n    - weight: 100\n")
    line, column, message = only(text)
    assert (line, column) == (10, 7)
    assert message.endswith("`spec.http[0].route[0]` needs the field `destination`")


def test_unknown_api_version_of_a_known_group():
    line, column, message = only(vs(ROUTE, api="networking.istio.io/v1alpha4"))
    assert (line, column) == (1, 1)
    assert message == (
        "VirtualService bookinfo/reviews: `networking.istio.io/v1alpha4` does not exist for "
        "VirtualService in Istio 1.30 (served: v1, v1alpha3, v1beta1); the API server refuses "
        "the object"
    )


def test_kind_in_the_wrong_group():
    _, _, message = only(vs(ROUTE, api="security.istio.io/v1"))
    assert (
        "VirtualService is a kind of `networking.istio.io`, not of `security.istio.io`" in message
    )


def test_preserve_unknown_fields_are_left_alone():
    text = (
        "apiVersion: networking.istio.io/v1alpha3\nkind: EnvoyFilter\n"
        "metadata: {name: f, namespace: istio-system}\n"
        "spec:\n  configPatches:\n  - applyTo: HTTP_FILTER\n    patch:\n"
        "      operation: INSERT_BEFORE\n      value:\n        anything: {goes: here}\n"
    )
    assert messages(text) == []


def test_int_or_string_accepts_both_and_nothing_else():
    def dr(value: str) -> str:
        return (
            "apiVersion: networking.istio.io/v1\nkind: DestinationRule\n"
            "metadata: {name: d, namespace: bookinfo}\n"
            "spec:\n  host: reviews.bookinfo.svc.cluster.local\n  trafficPolicy:\n"
            f"    outlierDetection:\n      maxEjectionPercent: 10\n"
            f"    connectionPool:\n      http:\n        http1MaxPendingRequests: 1\n"
            f"    loadBalancer:\n      localityLbSetting:\n        enabled: true\n"
            f"    portLevelSettings:\n    - port: {{number: 80}}\n      tls: {{mode: {value}}}\n"
        )

    assert messages(dr("SIMPLE")) == []
    assert "which is not one of" in only(dr("SIMPLEX"))[2]


def test_null_values_are_pruned_not_reported():
    assert messages(vs(ROUTE + "    timeout:\n    retries: ~\n")) == []


def test_unquoted_port_keys_are_read_as_strings():
    text = (
        "apiVersion: security.istio.io/v1\nkind: PeerAuthentication\n"
        "metadata: {name: p, namespace: bookinfo}\n"
        "spec:\n  selector:\n    matchLabels: {app: reviews}\n"
        "  portLevelMtls:\n    8080:\n      mode: DISABLE\n"
    )
    assert messages(text) == []
    _, _, message = only(text.replace("8080:", "70000:"))
    assert "has the key `70000`: port must be between 1-65535" in message


def test_port_level_mtls_needs_a_selector():
    text = (
        "apiVersion: security.istio.io/v1\nkind: PeerAuthentication\n"
        "metadata: {name: p, namespace: bookinfo}\n"
        "spec:\n  portLevelMtls:\n    8080:\n      mode: DISABLE\n"
    )
    line, column, message = only(text)
    assert (line, column) == (5, 3)
    assert message.endswith("`spec`: portLevelMtls requires selector")


# --- versions ------------------------------------------------------------------------------------


def test_istio_version_picks_the_schema_and_newer_fields_say_so():
    text = authz(
        "  targetRefs:\n  - {kind: Gateway, group: gateway.networking.k8s.io, name: gw}\n"
        "  action: ALLOW\n"
    )
    assert messages(text) == []
    assert messages(text, cfg='istio_version: "1.24"') == []
    traffic = (
        "apiVersion: extensions.istio.io/v1alpha1\nkind: TrafficExtension\n"
        "metadata: {name: t, namespace: bookinfo}\n"
        "spec:\n  lua: {inlineCode: 'x'}\n"
    )
    assert len(messages(traffic)) <= 1  # known to 1.30
    _, _, message = only(traffic, cfg='istio_version: "1.24"')
    assert "TrafficExtension needs Istio 1.30: Istio 1.24 has no such kind" in message


def test_a_field_newer_than_the_configured_istio_says_which_release_has_it():
    # `retries.backoff` is in Istio 1.30's VirtualService schema and not in 1.24's.
    text = vs(ROUTE + "    retries:\n      attempts: 3\n      backoff: 100ms\n")
    assert messages(text) == []
    line, column, message = only(text, cfg="istio_version: 1.24")
    assert (line, column) == (14, 7)
    assert message.endswith(
        "`backoff` in `spec.http[0].retries` needs Istio 1.30: it is not in Istio 1.24's schema "
        "(the API server drops it); upgrade Istio first, or set `istio_version` to what the "
        "cluster runs"
    )


def test_the_newer_field_is_still_checked_on_the_newer_release():
    text = vs(ROUTE + "    retries:\n      attempts: 3\n      backoff: soon\n")
    assert "not a duration" in only(text)[2]


def test_gateway_api_experimental_field_is_a_warning_on_the_standard_channel():
    text = (
        "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\n"
        "metadata: {name: r, namespace: bookinfo}\n"
        "spec:\n  parentRefs:\n  - name: gw\n  rules:\n"
        "  - backendRefs:\n    - {name: reviews, port: 9080}\n"
        "    sessionPersistence:\n      sessionName: s\n"
    )
    found = findings_of(RULE, text)
    assert [(f.line, f.column, f.severity) for f in found] == [(10, 5, "warning")]
    assert "only in Gateway API's experimental channel" in found[0].message
    cfg = "rules:\n  schema-invalid:\n    gateway_api_experimental: true\n"
    assert findings_of(RULE, text, cfg=cfg) == []


def test_gateway_api_backend_ref_to_a_service_needs_a_port():
    text = (
        "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\n"
        "metadata: {name: r, namespace: bookinfo}\n"
        "spec:\n  parentRefs:\n  - name: gw\n  rules:\n"
        "  - backendRefs:\n    - name: reviews\n"
    )
    line, column, message = only(text)
    assert (line, column) == (9, 7)
    assert message.endswith("`spec.rules[0].backendRefs[0]`: Must have port for Service reference")


def test_gateway_api_version_served_only_by_the_experimental_channel():
    text = (
        "apiVersion: gateway.networking.k8s.io/v1alpha2\nkind: TLSRoute\n"
        "metadata: {name: r, namespace: bookinfo}\n"
        "spec:\n  parentRefs:\n  - name: gw\n  rules:\n  - backendRefs:\n"
        "    - {name: reviews, port: 443}\n"
    )
    [finding] = findings_of(RULE, text)
    assert finding.severity == "warning"  # the cluster may run the experimental CRDs
    assert "`gateway.networking.k8s.io/v1alpha2` is not served for TLSRoute" in finding.message
    assert "Gateway API v1.6.1 (experimental channel) serves it" in finding.message
    assert "set `gateway_api_experimental: true`" in finding.message
    cfg = "rules:\n  schema-invalid:\n    gateway_api_experimental: true\n"
    assert messages(text, cfg=cfg) == []


def test_fingerprint_survives_an_inserted_route():
    first = findings_of(RULE, vs(ROUTE + "    timout: 5s\n"))
    moved = vs(
        "  hosts: [reviews.bookinfo.svc.cluster.local]\n  http:\n"
        "  - route:\n    - destination: {host: ratings.bookinfo.svc.cluster.local}\n"
        "  - route:\n    - destination:\n        host: reviews.bookinfo.svc.cluster.local\n"
        "    timout: 5s\n"
    )
    second = findings_of(RULE, moved)
    assert [f.fingerprint for f in second] == [f.fingerprint for f in first]


def test_rule_names_must_be_unique_but_unnamed_rules_are_fine():
    cfg = "rules:\n  schema-invalid:\n    gateway_api_experimental: true\n"
    rules = (
        "  - backendRefs:\n    - {name: a, port: 80}\n  - backendRefs:\n    - {name: b, port: 80}\n"
    )
    text = (
        "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\n"
        "metadata: {name: r, namespace: bookinfo}\n"
        "spec:\n  parentRefs:\n  - name: gw\n  rules:\n"
    )
    assert messages(text + rules, cfg=cfg) == []
    named = rules.replace("  - backendRefs:\n", "  - name: main\n    backendRefs:\n")
    line, column, message = only(text + named, cfg=cfg)
    assert (line, column) == (11, 5)
    assert message.endswith("`spec.rules[1]` repeats the `name` of an earlier item")


def test_gateway_api_listener_fields_some_protocols_must_not_set():
    text = (
        "apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\n"
        "metadata: {name: gw, namespace: bookinfo}\n"
        "spec:\n  gatewayClassName: istio\n  listeners:\n"
        "  - name: http\n    port: 80\n    protocol: HTTP\n"
        "    tls:\n      certificateRefs:\n      - name: cert\n"
        "  - name: tcp\n    port: 9000\n    protocol: TCP\n    hostname: db.example.com\n"
    )
    found = messages(text)
    assert [(line, column) for line, column, _ in found] == [(10, 5), (16, 5)]
    assert found[0][2].endswith(
        "`spec.listeners[0]`: tls must not be specified for protocols ['HTTP', 'TCP', 'UDP']"
    )
    assert found[1][2].endswith(
        "`spec.listeners[1]`: hostname must not be specified for protocols ['TCP', 'UDP']"
    )


def test_a_kind_only_the_experimental_channel_has():
    text = (
        "apiVersion: gateway.networking.x-k8s.io/v1alpha1\nkind: XBackendTrafficPolicy\n"
        "metadata: {name: p, namespace: bookinfo}\n"
        "spec:\n  targetRefs:\n  - {group: '', kind: Service, name: reviews}\n"
    )
    [finding] = findings_of(RULE, text)
    assert (finding.line, finding.column, finding.severity) == (2, 1, "warning")
    assert "XBackendTrafficPolicy needs Gateway API v1.6.1 (experimental channel)" in (
        finding.message
    )
    cfg = "rules:\n  schema-invalid:\n    gateway_api_experimental: true\n"
    assert messages(text, cfg=cfg) == []


def test_an_istio_gateway_written_with_the_gateway_api_version_says_so():
    text = (
        "apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\n"
        "metadata: {name: gw, namespace: istio-system}\n"
        "spec:\n  selector: {istio: ingressgateway}\n  servers:\n"
        "  - port: {number: 80, name: http, protocol: HTTP}\n    hosts: ['*']\n"
    )
    found = messages(text)
    assert [(line, column) for line, column, _ in found] == [(4, 1), (4, 1), (5, 3), (6, 3)]
    assert found[0][2].endswith("`spec` needs the field `gatewayClassName`")
    assert found[2][2].endswith(
        "unknown field `selector` in `spec`, a field of the Gateway of `networking.istio.io` "
        "(is the apiVersion right?): the API server drops it (`kubectl apply` refuses it)"
    )
