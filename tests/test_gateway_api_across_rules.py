"""The rules that predate the Gateway API, on Gateway API and ambient configuration."""

import pytest

from rules.core.loader import load
from tests.helpers import files, findings_of

AMBIENT = """\
apiVersion: v1
kind: Namespace
metadata:
  name: shop
  labels: {istio.io/dataplane-mode: ambient, istio.io/use-waypoint: waypoint}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: waypoint, namespace: shop}
spec:
  gatewayClassName: istio-waypoint
  listeners: [{name: mesh, port: 15008, protocol: HBONE}]
---
apiVersion: v1
kind: Service
metadata: {name: frontend, namespace: shop}
spec: {selector: {app: frontend}, ports: [{port: 8080}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: frontend, namespace: shop}
spec:
  template:
    metadata: {labels: {app: frontend}}
    spec: {containers: [{name: app, image: app}]}
---
"""


def policy(
    target: str, namespace: str = "shop", rule: str = "{to: [{operation: {methods: [GET]}}]}"
) -> str:
    return (
        "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\n"
        f"metadata: {{name: open, namespace: {namespace}}}\n"
        f"spec:\n  targetRefs: [{target}]\n  rules: [{rule}]\n"
    )


TO_WAYPOINT = "{kind: Gateway, group: gateway.networking.k8s.io, name: waypoint}"
TO_SERVICE = "{kind: Service, group: '', name: frontend}"
TO_CLASS = "{kind: GatewayClass, group: gateway.networking.k8s.io, name: istio-waypoint}"


def test_authz_unscoped_reads_a_waypoint_target_as_wide_as_its_namespace():
    [finding] = findings_of("authz-unscoped", AMBIENT + policy(TO_WAYPOINT))
    assert finding.message == (
        "AuthorizationPolicy shop/open targets waypoint shop/waypoint and its rule 1 has no "
        "`from`: it opens methods GET on every Service that waypoint shop/waypoint serves to any "
        "caller, plaintext ones without identity included"
    )
    [finding] = findings_of("authz-unscoped", AMBIENT + policy(TO_CLASS, namespace="istio-system"))
    assert "on every waypoint of the mesh" in finding.message


def test_authz_unscoped_leaves_service_and_ingress_targets_and_callers_named_alone():
    assert not findings_of("authz-unscoped", AMBIENT + policy(TO_SERVICE))
    ingress = AMBIENT.replace("istio-waypoint", "istio")
    assert not findings_of("authz-unscoped", ingress + policy(TO_WAYPOINT))
    named = "{from: [{source: {principals: [cluster.local/ns/web/sa/web]}}]}"
    assert not findings_of("authz-unscoped", AMBIENT + policy(TO_WAYPOINT, rule=named))
    # GatewayClass targets count only from the root namespace, as Istio attaches them
    assert not findings_of("authz-unscoped", AMBIENT + policy(TO_CLASS))


@pytest.mark.parametrize("target", [TO_WAYPOINT, TO_SERVICE, TO_CLASS])
def test_target_refs_policies_never_block_the_kubelet(target):
    sidecars = AMBIENT.replace("istio.io/dataplane-mode: ambient", "istio-injection: enabled")
    probed = sidecars.replace(
        "{name: app, image: app}",
        "{name: app, image: app, readinessProbe: {httpGet: {path: /ready, port: 8080}}}",
    )
    not_rewritten = "probes_rewritten: false\n"
    deny_all_else = "{from: [{source: {principals: [cluster.local/ns/web/sa/web]}}]}"
    assert not findings_of(
        "authz-blocks-health-probes",
        probed + policy(target, rule=deny_all_else),
        cfg=not_rewritten,
    )
    selector = policy(target, rule=deny_all_else).replace(
        f"targetRefs: [{target}]", "selector: {matchLabels: {app: frontend}}"
    )
    assert findings_of("authz-blocks-health-probes", probed + selector, cfg=not_rewritten)


def test_permissive_mtls_says_ambient_does_not_support_disable():
    pa = (
        "apiVersion: security.istio.io/v1\nkind: PeerAuthentication\n"
        "metadata: {name: default, namespace: shop}\nspec: {mtls: {mode: DISABLE}}\n"
    )
    [finding] = findings_of("permissive-mtls", AMBIENT + pa)
    assert "ambient mode does not support DISABLE" in finding.message
    assert "accepts plaintext callers from outside the mesh" in finding.message
    [sidecar] = findings_of("permissive-mtls", pa)
    assert sidecar.message.endswith("traffic is plaintext, unencrypted and unauthenticated")


def test_sidecar_rules_stay_quiet_in_an_ambient_namespace_of_gateway_api_resources():
    route = (
        "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\n"
        "metadata: {name: frontend, namespace: shop}\n"
        "spec:\n  parentRefs: [{group: '', kind: Service, name: frontend}]\n"
    )
    source = AMBIENT + policy(TO_SERVICE) + "---\n" + route
    assert not findings_of("sidecar-missing", source)
    sidecar = (
        "---\napiVersion: networking.istio.io/v1\nkind: Sidecar\n"
        "metadata: {name: default, namespace: shop}\nspec: {}\n"
    )
    assert not findings_of("sidecar-egress-unscoped", source + sidecar)
    # the same namespace without the ambient label is in the mesh through its Istio policy
    sidecars = source.replace("istio.io/dataplane-mode: ambient", "istio-injection: enabled")
    assert findings_of("sidecar-missing", sidecars)


def test_gateway_host_mismatch_stays_with_istio_gateways():
    source = (
        "apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\n"
        "metadata: {name: public, namespace: ingress}\n"
        "spec:\n  gatewayClassName: istio\n"
        "  listeners: [{name: http, port: 80, protocol: HTTP, hostname: shop.example.com}]\n---\n"
        "apiVersion: networking.istio.io/v1\nkind: VirtualService\n"
        "metadata: {name: shop, namespace: ingress}\n"
        "spec:\n  hosts: [api.example.com]\n  gateways: [public]\n"
        "  http: [{route: [{destination: {host: frontend.shop.svc.cluster.local}}]}]\n"
    )
    assert not findings_of("gateway-host-mismatch", source)


@pytest.mark.parametrize("version", ["v1", "v1beta1", "v1alpha2"])
def test_the_loader_reads_gateway_api_kinds_in_every_served_version(version):
    kinds = [
        "Gateway",
        "GatewayClass",
        "HTTPRoute",
        "GRPCRoute",
        "TCPRoute",
        "TLSRoute",
        "ReferenceGrant",
        "UDPRoute",
    ]
    text = "---\n".join(
        f"apiVersion: gateway.networking.k8s.io/{version}\nkind: {kind}\nmetadata: {{name: x, namespace: a}}\n"
        for kind in kinds
    )
    resources, skipped = load(files({"gw.yaml": text}))
    assert skipped == []
    assert [r.kind for r in resources] == kinds
    assert [r.namespace for r in resources if r.kind == "GatewayClass"] == [None]
