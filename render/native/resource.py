"""A resource as the in-process build holds it: its body, the file it came from, the ids it
has had, and what Kustomize knows of its kind (scope, output order)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Kinds Kustomize knows to be cluster-scoped (kyaml's precomputed openapi scopes, v5.5): no
# namespace is set on them. Every other kind is namespaced to Kustomize, custom ones included.
CLUSTER_SCOPED = {
    "admissionregistration.k8s.io": {
        "MutatingWebhookConfiguration",
        "ValidatingWebhookConfiguration",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
    },
    "apiextensions.k8s.io": {"CustomResourceDefinition"},
    "apiregistration.k8s.io": {"APIService"},
    "certificates.k8s.io": {"CertificateSigningRequest"},
    "flowcontrol.apiserver.k8s.io": {"FlowSchema", "PriorityLevelConfiguration"},
    "networking.k8s.io": {"IngressClass"},
    "node.k8s.io": {"RuntimeClass"},
    "policy": {"PodSecurityPolicy"},
    "rbac.authorization.k8s.io": {"ClusterRole", "ClusterRoleBinding"},
    "scheduling.k8s.io": {"PriorityClass"},
    "storage.k8s.io": {"CSIDriver", "CSINode", "StorageClass", "VolumeAttachment"},
    "": {"ComponentStatus", "Namespace", "Node", "PersistentVolume"},
}
# Kinds whose namespace Kustomize also writes elsewhere: role binding subjects and webhook
# services follow the namespace of what they name (its name-reference pass), an APIService's
# service is rewritten. A root that sets a namespace over one goes to the tool, as does a CRD
# with a conversion webhook.
TOOL_KINDS = {
    "APIService",
    "RoleBinding",
    "ClusterRoleBinding",
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
}
_ORDER_FIRST = [
    "Namespace",
    "ResourceQuota",
    "StorageClass",
    "CustomResourceDefinition",
    "ServiceAccount",
    "PodSecurityPolicy",
    "Role",
    "ClusterRole",
    "RoleBinding",
    "ClusterRoleBinding",
    "ConfigMap",
    "Secret",
    "Endpoints",
    "Service",
    "LimitRange",
    "PriorityClass",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "Deployment",
    "StatefulSet",
    "CronJob",
    "PodDisruptionBudget",
]
_ORDER_LAST = ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration")
_TYPE_ORDER = {
    **{kind: index - len(_ORDER_FIRST) for index, kind in enumerate(_ORDER_FIRST)},
    **{kind: index + 1 for index, kind in enumerate(_ORDER_LAST)},
}


class Unsupported(Exception):
    """The root needs something the in-process build does not do: the tool builds it."""


@dataclass(slots=True)
class Resource:
    body: dict[str, Any]
    source: str
    """The repository path of the file it was read from."""
    namespaces: list[str] = field(default_factory=list)
    """Every effective namespace it has had, the original first (Kustomize's ids)."""

    @property
    def group_version(self) -> tuple[str, str]:
        api = self.body.get("apiVersion")
        group, _, version = api.rpartition("/") if isinstance(api, str) else ("", "", "")
        return group, version

    @property
    def kind(self) -> str:
        return str(self.body.get("kind"))

    @property
    def name(self) -> str:
        return str(self.body["metadata"]["name"])

    @property
    def namespace(self) -> str:
        value = self.body["metadata"].get("namespace")
        return value if isinstance(value, str) else ""

    @property
    def cluster_scoped(self) -> bool:
        return self.kind in CLUSTER_SCOPED.get(self.group_version[0], ())

    def effective(self, namespace: str) -> str:
        """Kustomize's effective namespace: none for a cluster-scoped kind, `default` for none."""
        if self.cluster_scoped:
            return "~X"
        return namespace or "default"

    def id(self) -> tuple[str, str, str, str, str]:
        group, version = self.group_version
        return (group, version, self.kind, self.name, self.effective(self.namespace))


def legacy_order(resource: Resource) -> tuple[int, str, str]:
    """Kustomize's legacy sort key: the kind's place in its fixed order, then group, version and
    kind as text, then `namespace|name` as text (so `ab|a` sorts before `a|z`)."""
    group, version = resource.group_version
    kind = resource.kind
    gvk = f"{group or '~G'}_{version or '~V'}_{kind or '~K'}"
    if kind == "Namespace" and not group:
        # Kustomize reverses its comparison between a core Namespace and another group's: the
        # core one comes first
        gvk = ""
    return (_TYPE_ORDER.get(kind, 0), gvk, f"{resource.namespace or '~X'}|{resource.name}")
