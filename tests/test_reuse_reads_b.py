"""What five rules declare they read (`READS`) lets the head of a diff reuse the base's problems
exactly (`rules.core.reuse`): hold-application-until-proxy-starts, proxy-resources-missing,
waypoint-missing, revision-label and yaml-invalid.

Each fact case changes only resources of one kind the rule reads, and that changes the rule's
finding about a resource that did not change: the comparison with a full analysis passes with
the rule's `READS`, and fails once that kind is taken out of it (so none is there for nothing
the tests can see). Each served case changes something else, and the rule is served from the
base (without running, or over the changed resources only).
"""

from __future__ import annotations

from types import ModuleType

import pytest

from rules import (
    hold_application_until_proxy_starts,
    proxy_resources_missing,
    revision_label,
    waypoint_missing,
    yaml_invalid,
)
from rules.core.context import Context
from rules.core.engine import context_of, run_rules
from rules.core.loader import SourceFile
from rules.core.reuse import state_of
from tests.helpers import config, files
from tests.test_reuse import _compare

Case = tuple[dict[str, str], dict[str, str]]


def _findings(rule: ModuleType, sources: list[SourceFile]) -> list[tuple[str, str]]:
    context = context_of(sources, config())[0]
    return [(f.path, f.message) for f in run_rules(context) if f.rule == rule.ID]


def _about_unchanged(rule: ModuleType, base: list[SourceFile], head: list[SourceFile]) -> set:
    """The rule's problems that differ between base and head about resources that did not
    change (by `state_of`, what reuse compares)."""
    conf = config()
    base_context = context_of(base, conf)[0]
    head_context = context_of(head, conf)[0]
    states = {state_of(r) for r in base_context.resources}
    states &= {state_of(r) for r in head_context.resources}

    def problems(context: Context) -> set:
        found = set()
        for problem in rule.check(context, rule.OPTIONS):
            state = state_of(problem.resource)
            if state in states:
                found.add((state, problem.message, tuple(problem.path)))
        return found

    return problems(base_context) ^ problems(head_context)


def _check_fact(
    monkeypatch, rule: ModuleType, kind: str, base: dict[str, str], head: dict[str, str]
):
    """The case changes the rule's findings about an unchanged resource; reuse finds them with
    the rule's READS and misses them without `kind`."""
    before, after = files(base), files(head)
    assert _about_unchanged(rule, before, after), "the case changes no finding it should"
    _compare(before, after)
    assert kind in rule.READS
    monkeypatch.setattr(rule, "READS", rule.READS - {kind})
    with pytest.raises(AssertionError):
        _compare(before, after)


def _served(rule: ModuleType, base: dict[str, str], head: dict[str, str]) -> None:
    before, after = files(base), files(head)
    assert _findings(rule, before) or _findings(rule, after), "a case with nothing to reuse"
    assert rule.ID in _compare(before, after).served


# --- Mesh config sources and pods ---------------------------------------------------------------

OPERATOR = """\
apiVersion: install.istio.io/v1alpha1
kind: IstioOperator
metadata:
  name: control-plane
  namespace: istio-system
spec:
{spec}"""
INJECTED = """\
apiVersion: v1
kind: Namespace
metadata:
  name: legacy
  labels: {istio-injection: enabled}
"""
NOT_INJECTED = INJECTED.replace("istio-injection: enabled", "team: legacy")
HOLDS = "meshConfig:\n  defaultConfig:\n    holdApplicationUntilProxyStarts: true\n"
OVERRIDE = "meshConfig:\n  accessLogFile: /dev/stdout\n"


def _deployment(name: str, annotations: str) -> str:
    return f"""\
apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}, namespace: shop}}
spec:
  template:
    metadata:
      annotations:
{annotations}    spec:
      containers: [{{name: app, image: example/app:1.0}}]
"""


OPT_OUT = """        proxy.istio.io/config: '{"holdApplicationUntilProxyStarts": false}'\n"""
NO_MEMORY_LIMIT = "        sidecar.istio.io/proxyMemory: 128Mi\n"

# Sources of one layer key need not be in separate files: the key of an Application, a
# HelmRelease, an Istio or the `istio` ConfigMap holds its file, so two documents of one name in
# one file are layers of one configuration, and the first is unchanged when the second changes.
SAME_FILE: dict[str, str] = {
    "Application": """\
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {{name: istiod, namespace: argocd}}
spec:
  source:
    chart: istiod
    repoURL: https://istio-release.example/charts
    targetRevision: 1.24.0
    helm:
      valuesObject: {values}
""",
    "HelmRelease": """\
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {{name: istiod, namespace: istio-system}}
spec:
  chart: {{spec: {{chart: istiod, version: 1.24.0}}}}
  values: {values}
""",
    "Istio": """\
apiVersion: sailoperator.io/v1
kind: Istio
metadata: {{name: default}}
spec:
  values: {values}
""",
    "ConfigMap": """\
apiVersion: v1
kind: ConfigMap
metadata: {{name: istio, namespace: istio-system}}
data:
  mesh: |-
    {values}
""",
}


def _same_file(kind: str, first: str, second: str, changed: str) -> Case:
    """Two documents of `kind` in one file; the second (`second`, then `changed`) covers the
    first or stops covering it."""
    template = SAME_FILE[kind]
    if kind == "ConfigMap":  # the mesh config itself, not chart values
        first, second, changed = (
            v.removeprefix("{meshConfig: ")[:-1] for v in (first, second, changed)
        )
    document = template.format(values=first)
    return (
        {"mesh.yaml": document + "---\n" + template.format(values=second)},
        {"mesh.yaml": document + "---\n" + template.format(values=changed)},
    )


HOLD_UNSET = "{meshConfig: {accessLogFile: /dev/stdout}}"
HOLD_SET = "{meshConfig: {defaultConfig: {holdApplicationUntilProxyStarts: true}}}"

HOLD_FACTS: dict[str, Case] = {
    # The base values file stops setting what its override in the same folder leaves out.
    "HelmValues": (
        {"istio/values.yaml": HOLDS, "istio/values-prod.yaml": OVERRIDE},
        {"istio/values.yaml": "meshConfig: {}\n", "istio/values-prod.yaml": OVERRIDE},
    ),
    # An overlay of one IstioOperator (same name) is covered by the base operator above it.
    "IstioOperator": (
        {
            "istio/base.yaml": OPERATOR.format(spec="  " + HOLDS.replace("\n  ", "\n    ")),
            "istio/overlays/prod.yaml": OPERATOR.format(spec="  " + OVERRIDE.replace("\n", "\n  ")),
        },
        {
            "istio/base.yaml": OPERATOR.format(spec="  profile: default\n"),
            "istio/overlays/prod.yaml": OPERATOR.format(spec="  " + OVERRIDE.replace("\n", "\n  ")),
        },
    ),
    # An ambient-profile install is judged once a namespace is labelled for sidecar injection.
    "Namespace": (
        {"iop.yaml": OPERATOR.format(spec="  profile: ambient\n"), "ns.yaml": NOT_INJECTED},
        {"iop.yaml": OPERATOR.format(spec="  profile: ambient\n"), "ns.yaml": INJECTED},
    ),
    **{kind: _same_file(kind, HOLD_UNSET, HOLD_SET, HOLD_UNSET) for kind in SAME_FILE},
}


@pytest.mark.parametrize("kind", sorted(HOLD_FACTS))
def test_hold_application_reads_the_mesh_config_layers_and_namespaces(monkeypatch, kind):
    base, head = HOLD_FACTS[kind]
    _check_fact(monkeypatch, hold_application_until_proxy_starts, kind, base, head)


def test_hold_application_is_served_when_only_pods_change():
    base = {
        "istio/values.yaml": "meshConfig: {}\n",
        "shop/a.yaml": _deployment("a", OPT_OUT),
        "shop/b.yaml": _deployment("b", OPT_OUT),
    }
    head = {**base, "shop/b.yaml": _deployment("b", "        team: shop\n")}
    _served(hold_application_until_proxy_starts, base, head)
    _served(hold_application_until_proxy_starts, base, {**base, "shop/svc.yaml": SERVICE % ""})


NULL_MEMORY = "meshConfig: {}\nglobal:\n  proxy:\n    resources:\n      limits: {memory: null}\n"
RESTORED = NULL_MEMORY.replace("null", "512Mi")
AMBIENT_NULL = OPERATOR.format(
    spec="  profile: ambient\n  values:\n    global:\n      proxy:\n"
    "        resources:\n          limits: {memory: null}\n"
)

NULL_VALUES = "{meshConfig: {}, global: {proxy: {resources: {limits: {memory: null}}}}}"
OPERATOR_VALUES = (
    "  values:\n    global:\n      proxy:\n        resources:\n          limits: {memory: %s}\n"
)

PROXY_FACTS: dict[str, Case] = {
    # An overlay of one IstioOperator (same name) below a base that restores the memory limit.
    "IstioOperator": (
        {
            "istio/base.yaml": OPERATOR.format(spec=OPERATOR_VALUES % "512Mi"),
            "istio/overlays/prod.yaml": OPERATOR.format(spec=OPERATOR_VALUES % "null"),
        },
        {
            "istio/base.yaml": OPERATOR.format(spec="  profile: default\n"),
            "istio/overlays/prod.yaml": OPERATOR.format(spec=OPERATOR_VALUES % "null"),
        },
    ),
    # The override that restored the memory limit its base file removes stops doing so.
    "HelmValues": (
        {"istio/values.yaml": NULL_MEMORY, "istio/values-prod.yaml": RESTORED},
        {"istio/values.yaml": NULL_MEMORY, "istio/values-prod.yaml": "meshConfig: {}\n"},
    ),
    "Namespace": (
        {"iop.yaml": AMBIENT_NULL, "ns.yaml": NOT_INJECTED},
        {"iop.yaml": AMBIENT_NULL, "ns.yaml": INJECTED},
    ),
    **{
        kind: _same_file(kind, NULL_VALUES, NULL_VALUES.replace("null", "512Mi"), NULL_VALUES)
        for kind in SAME_FILE
        if kind != "ConfigMap"
    },
}


@pytest.mark.parametrize("kind", sorted(PROXY_FACTS))
def test_proxy_resources_reads_the_values_layers_and_namespaces(monkeypatch, kind):
    base, head = PROXY_FACTS[kind]
    _check_fact(monkeypatch, proxy_resources_missing, kind, base, head)


def test_proxy_resources_is_served_when_pods_or_the_istio_configmap_change():
    """The `istio` ConfigMap holds mesh config but no values and no profile: not read."""
    configmap = (
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: istio, namespace: istio-system}\n"
        "data:\n  mesh: |-\n    accessLogFile: %s\n"
    )
    base = {
        "iop.yaml": AMBIENT_NULL,
        "ns.yaml": INJECTED,
        "mesh.yaml": configmap % "/dev/stdout",
        "shop/a.yaml": _deployment("a", NO_MEMORY_LIMIT),
        "shop/b.yaml": _deployment("b", NO_MEMORY_LIMIT),
    }
    _served(proxy_resources_missing, base, {**base, "mesh.yaml": configmap % "''"})
    head = {**base, "shop/b.yaml": _deployment("b", "        team: shop\n")}
    _served(proxy_resources_missing, base, head)


# --- Waypoints ----------------------------------------------------------------------------------


def _namespace(labels: str) -> str:
    return f"apiVersion: v1\nkind: Namespace\nmetadata: {{name: shop, labels: {labels}}}\n"


AMBIENT = _namespace("{istio.io/dataplane-mode: ambient}")
WAYPOINT = """\
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: waypoint, namespace: shop%s}
spec:
  gatewayClassName: istio-waypoint
  listeners: [{name: mesh, port: 15008, protocol: HBONE}]
"""
WAYPOINT_CLASS = """\
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: istio-waypoint, labels: {istio.io/waypoint-for: %s}}
spec: {controllerName: istio.io/mesh-controller}
"""
SERVICE = """\
apiVersion: v1
kind: Service
metadata: {name: frontend, namespace: shop%s}
spec: {ports: [{port: 8080}]}
"""
SERVICE_ENTRY = """\
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: frontend, namespace: shop%s}
spec: {hosts: [frontend.example.com], ports: [{number: 80, name: http, protocol: HTTP}]}
"""
USES = ", labels: {istio.io/use-waypoint: waypoint}"
ISTIO_GATEWAY = """\
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: waypoint}
spec: {servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: ['*']}]}
"""


def _policy(bind: str) -> str:
    return (
        "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\n"
        "metadata: {name: frontend, namespace: shop}\n"
        f"spec:\n  {bind}\n  action: ALLOW\n  rules:\n  - to: [{{operation: {{methods: [GET]}}}}]\n"
    )


SELECTOR_POLICY = _policy("selector: {matchLabels: {app: frontend}}")
TO_SERVICE = _policy("targetRefs: [{kind: Service, group: '', name: frontend}]")
TO_ENTRY = _policy("targetRefs: [{kind: ServiceEntry, group: networking.istio.io, name: frontend}]")
ROUTE = """\
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: frontend, namespace: shop}
spec:
  parentRefs: [{group: '', kind: Service, name: frontend}]
  rules: [{backendRefs: [{name: frontend, port: 8080}]}]
"""

WAYPOINT_FACTS: dict[str, list[Case]] = {
    "Gateway": [
        # The waypoint a Service's label names is removed.
        (
            {"ns.yaml": AMBIENT, "wp.yaml": WAYPOINT % "", "svc.yaml": SERVICE % USES},
            {"ns.yaml": AMBIENT, "svc.yaml": SERVICE % USES},
        ),
        # An Istio Gateway of that name and an unknown namespace may have been it.
        (
            {"ns.yaml": AMBIENT, "other/gw.yaml": ISTIO_GATEWAY, "svc.yaml": SERVICE % USES},
            {"ns.yaml": AMBIENT, "svc.yaml": SERVICE % USES},
        ),
    ],
    "GatewayClass": [
        # The waypoint's class now takes only workload traffic.
        (
            {
                "ns.yaml": AMBIENT,
                "wp.yaml": WAYPOINT % "",
                "class.yaml": WAYPOINT_CLASS % "service",
                "svc.yaml": SERVICE % USES,
            },
            {
                "ns.yaml": AMBIENT,
                "wp.yaml": WAYPOINT % "",
                "class.yaml": WAYPOINT_CLASS % "workload",
                "svc.yaml": SERVICE % USES,
            },
        ),
    ],
    "Namespace": [
        # The policy's namespace turns to ambient mode: ztunnel cannot enforce its methods.
        (
            {"ns.yaml": _namespace("{team: shop}"), "ap.yaml": SELECTOR_POLICY},
            {"ns.yaml": AMBIENT, "ap.yaml": SELECTOR_POLICY},
        ),
    ],
    "Service": [
        # The Service a policy targets stops using its waypoint.
        (
            {
                "ns.yaml": AMBIENT,
                "wp.yaml": WAYPOINT % "",
                "svc.yaml": SERVICE % USES,
                "ap.yaml": TO_SERVICE,
            },
            {
                "ns.yaml": AMBIENT,
                "wp.yaml": WAYPOINT % "",
                "svc.yaml": SERVICE % "",
                "ap.yaml": TO_SERVICE,
            },
        ),
        # The Service a mesh route is attached to stops using its waypoint.
        (
            {
                "ns.yaml": AMBIENT,
                "wp.yaml": WAYPOINT % "",
                "svc.yaml": SERVICE % USES,
                "r.yaml": ROUTE,
            },
            {
                "ns.yaml": AMBIENT,
                "wp.yaml": WAYPOINT % "",
                "svc.yaml": SERVICE % "",
                "r.yaml": ROUTE,
            },
        ),
    ],
    "ServiceEntry": [
        # The ServiceEntry a policy targets stops using its waypoint.
        (
            {
                "ns.yaml": AMBIENT,
                "wp.yaml": WAYPOINT % "",
                "se.yaml": SERVICE_ENTRY % USES,
                "ap.yaml": TO_ENTRY,
            },
            {
                "ns.yaml": AMBIENT,
                "wp.yaml": WAYPOINT % "",
                "se.yaml": SERVICE_ENTRY % "",
                "ap.yaml": TO_ENTRY,
            },
        ),
    ],
}


@pytest.mark.parametrize(
    "kind, number",
    [(kind, n) for kind, cases in sorted(WAYPOINT_FACTS.items()) for n in range(len(cases))],
)
def test_waypoint_missing_reads_gateways_classes_namespaces_and_services(monkeypatch, kind, number):
    base, head = WAYPOINT_FACTS[kind][number]
    _check_fact(monkeypatch, waypoint_missing, kind, base, head)


def test_waypoint_missing_is_served_when_only_policies_change():
    base = {
        "ns.yaml": AMBIENT,
        "ap.yaml": SELECTOR_POLICY,
        "other.yaml": SELECTOR_POLICY.replace("name: frontend", "name: other"),
    }
    head = {**base, "ap.yaml": SELECTOR_POLICY.replace("GET", "POST")}
    _served(waypoint_missing, base, head)
    _served(
        waypoint_missing,
        base,
        {
            **base,
            "cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x, namespace: shop}\n",
        },
    )


# --- Rules that read nothing beyond their resource ----------------------------------------------


def test_revision_label_is_served_from_the_base():
    base = {
        "a.yaml": "apiVersion: v1\nkind: Namespace\nmetadata: {name: a, labels: {istio-injection: enabled}}\n",
        "b.yaml": "apiVersion: v1\nkind: Namespace\nmetadata: {name: b, labels: {istio-injection: enabled}}\n",
    }
    head = {
        **base,
        "b.yaml": base["b.yaml"].replace("istio-injection: enabled", "istio.io/rev: stable"),
    }
    _served(revision_label, base, head)
    _served(revision_label, base, {**base, "svc.yaml": SERVICE % ""})


def test_yaml_invalid_is_served_from_the_base():
    broken = "apiVersion: v1\nkind: Service\nmetadata:\n  name: %s\n   namespace: shop\n"
    base = {"a.yaml": broken % "a", "b.yaml": broken % "b", "svc.yaml": SERVICE % ""}
    _served(
        yaml_invalid,
        base,
        {**base, "b.yaml": "apiVersion: v1\nkind: Service\nmetadata: {name: b\n"},
    )
    _served(yaml_invalid, base, {**base, "svc.yaml": SERVICE % USES})
