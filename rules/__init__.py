"""The rules, listed explicitly: adding a rule means importing it here (no magic discovery).

Each rule lives at `rules/<rule_id>.py` (dashes become underscores); the machinery they share
lives in `rules/core/` (model, loader, config, engine) and `rules/mesh/` (the mesh index and
its readers). Nothing under `rules` imports `bot`: the analysis is pure.

Each rule is a module with `ID`, `SEVERITY`, `KINDS`, `SUMMARY`, `WHY`, `FIX`, `FAIL`, `PASS`,
`OPTIONS` (option defaults) and a generator `check(ctx, options)` yielding `Problem`s. A rule that
compares against the base revision also has `BASE`, the base its FAIL and PASS examples assume.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from rules import (
    authz_blocks_health_probes,
    authz_unscoped,
    backend_not_found,
    fault_injection,
    gateway_host_mismatch,
    gateway_not_found,
    hold_application_until_proxy_starts,
    host_not_found,
    in_place_upgrade,
    mixed_routing_apis,
    mtls_weakened,
    permissive_mtls,
    proxy_resources_missing,
    reference_not_permitted,
    render_failed,
    revision_label,
    route_hostname_mismatch,
    route_not_attached,
    route_parent_not_found,
    schema_invalid,
    short_host_name,
    sidecar_egress_unscoped,
    sidecar_missing,
    strict_mtls_missing,
    subset_not_defined,
    waypoint_missing,
    yaml_invalid,
)

RULES: dict[str, ModuleType] = {
    module.ID: module
    for module in (
        fault_injection,
        permissive_mtls,
        mtls_weakened,
        strict_mtls_missing,
        authz_unscoped,
        authz_blocks_health_probes,
        sidecar_missing,
        sidecar_egress_unscoped,
        short_host_name,
        host_not_found,
        subset_not_defined,
        gateway_not_found,
        gateway_host_mismatch,
        hold_application_until_proxy_starts,
        proxy_resources_missing,
        in_place_upgrade,
        revision_label,
        render_failed,
        route_parent_not_found,
        route_not_attached,
        route_hostname_mismatch,
        backend_not_found,
        reference_not_permitted,
        waypoint_missing,
        mixed_routing_apis,
        yaml_invalid,
        schema_invalid,
    )
}


def get(rule_id: str) -> ModuleType:
    """The rule module with this ID; KeyError naming the ID when there is none."""
    try:
        return RULES[rule_id]
    except KeyError:
        raise KeyError(f"unknown rule '{rule_id}'") from None


def option_defaults() -> dict[str, dict[str, Any]]:
    """Each rule's option defaults, as the config parser needs them."""
    return {rule_id: dict(module.OPTIONS) for rule_id, module in RULES.items()}
