"""The few istiod chart defaults the rules judge against, and how the chart merges values in.

Source: istio/istio 1.30.3, `manifests/charts/istio-control/istio-discovery/values.yaml`
(Apache-2.0), under `_internal_defaults_do_not_set.global.proxy.resources`, unchanged since
1.7; and `files/profile-demo.yaml`, the only profile that touches them (requests only).
`tests/test_istiod_chart.py` checks the encoded values against that chart file.

The chart does not leave the merge to Helm: `templates/zzz_profile.yaml` takes the defaults out
of `.Values`, lays the profile over them, then the user's values, with sprig's
`mustMergeOverwrite` (mergo with override). So a value the user sets to `null` replaces the
default with nothing (the injection template then drops it with `omitNil`, since 1.30), while
an empty mapping (`limits: {}`) merges into the defaults and removes nothing.
"""

from __future__ import annotations

import copy
from typing import Any

CHART_VERSION = "1.30.3"
PROXY_RESOURCES: dict[str, Any] = {
    "requests": {"cpu": "100m", "memory": "128Mi"},
    "limits": {"cpu": "2000m", "memory": "1024Mi"},
}
"""`global.proxy.resources`: what every injected sidecar gets unless values change it."""
PROFILE_PROXY_RESOURCES: dict[str, dict[str, Any]] = {
    "demo": {"requests": {"cpu": "10m", "memory": "40Mi"}},
}


def merge_overwrite(defaults: Any, values: Any) -> Any:
    """`values` laid over `defaults` as sprig's `mergeOverwrite` does: mappings merge key by
    key, anything else (null included) replaces the default; an empty mapping changes nothing."""
    if not isinstance(defaults, dict) or not isinstance(values, dict):
        return copy.deepcopy(values)
    merged = copy.deepcopy(defaults)
    for key, value in values.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge_overwrite(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def effective_proxy_resources(values: dict[str, Any], profile: str | None) -> Any:
    """`global.proxy.resources` after the chart's merge: defaults, profile, then `values` (the
    user's Helm values or IstioOperator `spec.values`). None when the values remove them."""
    resources: Any = PROXY_RESOURCES
    if profile in PROFILE_PROXY_RESOURCES:
        resources = merge_overwrite(resources, PROFILE_PROXY_RESOURCES[profile])
    node: Any = values
    for key in ("global", "proxy"):
        if not isinstance(node, dict) or key not in node:
            return copy.deepcopy(resources)
        node = node[key]
        if node is None:
            return None
    if not isinstance(node, dict) or "resources" not in node:
        return copy.deepcopy(resources)
    return merge_overwrite(resources, node["resources"])
