"""Values left for a later stage to fill in: `${VAR}` (Flux postBuild, envsubst), `$(VAR)`
(Kustomize vars, shell-style) and unrendered Go templates `{{ ... }}` (Helm, Argo CD).

Such a value is unknown here: no rule may read it as a host, a name, a namespace or a mode, or
judge what it would resolve to.
"""

from __future__ import annotations

import re
from typing import Any

_PLACEHOLDER = re.compile(r"\$\{[^}]*\}|\$\([^)]*\)|\{\{.*?\}\}", re.S)


def is_placeholder(value: Any) -> bool:
    """Whether `value` is a string holding a placeholder anywhere (`${APP}.shop.svc`)."""
    return (
        isinstance(value, str)
        and ("$" in value or "{{" in value)
        and (_PLACEHOLDER.search(value) is not None)
    )


def known(value: Any) -> Any:
    """`value`, or None when it is a placeholder: for readers that treat None as unset."""
    return None if is_placeholder(value) else value
