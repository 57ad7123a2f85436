"""The rules, listed explicitly: adding a rule means importing it here (no magic discovery).

Each rule is a module with `ID`, `SEVERITY`, `KINDS`, `SUMMARY`, `WHY`, `FIX`, `FAIL`, `PASS`,
`OPTIONS` (option defaults) and a generator `check(ctx, options)` yielding `Problem`s.
"""

from __future__ import annotations

from types import ModuleType

from rules import (
    authz_blocks_health_probes,
    authz_unscoped,
    fault_injection,
    hold_application,
    in_place_upgrade,
    mtls_weakened,
    permissive_mtls,
    proxy_resources,
    revision_label,
    sidecar_egress_unscoped,
    sidecar_missing,
)

RULES: dict[str, ModuleType] = {
    module.ID: module
    for module in (
        fault_injection,
        permissive_mtls,
        mtls_weakened,
        authz_unscoped,
        authz_blocks_health_probes,
        sidecar_missing,
        sidecar_egress_unscoped,
        hold_application,
        proxy_resources,
        in_place_upgrade,
        revision_label,
    )
}


def get(rule_id: str) -> ModuleType:
    """The rule module with this ID; KeyError naming the ID when there is none."""
    try:
        return RULES[rule_id]
    except KeyError:
        raise KeyError(f"unknown rule '{rule_id}'") from None


def option_defaults() -> dict[str, dict]:
    """Each rule's option defaults, as the config parser needs them."""
    return {rule_id: dict(module.OPTIONS) for rule_id, module in RULES.items()}
