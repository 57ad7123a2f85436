"""A file that looks like a Kubernetes manifest does not parse as YAML.

kubectl, Argo CD, Flux and kustomize all refuse such a file, so whatever it holds is never
applied, while every other check is blind to it (the file is also listed as skipped). A file
counts as a manifest when it has top-level `apiVersion:` and `kind:` lines. Files with template
markers (`{{`, `{%`, `%{`: Helm, Jinja, Terraform) are templates to render first and stay
skipped. `${VAR}` placeholders are not such a marker: Flux's post-build substitution and
kustomize both parse a file before anything substitutes it, so a placeholder that breaks the
YAML breaks the deployment; where a tool such as envsubst renders the file before it is
applied, exclude the file in the config. Duplicate keys count as not parsing: Kubernetes's
strict field validation (the default of kubectl since 1.27) rejects them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from rules.core.context import Context
from rules.core.loader import FILE_KIND
from rules.core.model import Problem, describe

ID = "yaml-invalid"
SEVERITY = "warning"
KINDS = (FILE_KIND,)
SUMMARY = "A manifest file does not parse as YAML, so nothing in it is applied or checked."
WHY = (
    "A manifest that does not parse is refused by kubectl, Argo CD and Flux: the change it "
    "carries never reaches the cluster (a sync fails, or the file is silently left out), and no "
    "check can say anything about its content."
)
FIX = (
    "Fix the YAML at the position given (indentation, a tab, an unquoted `: ` or `#`, an "
    "unrendered `${...}` placeholder). If a tool renders the file before it is applied, keep "
    "its template markers or exclude it with `exclude:` in .github/footgun.yml."
)
FAIL = """\
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
spec:
  hosts: [reviews]
  http:
  - route:
    - destination:
        host: reviews
${EXTRA_ROUTE_FIELDS}
"""
PASS = """\
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
spec:
  hosts: [reviews]
  http:
  - route:
    - destination:
        host: reviews
      weight: 100
"""
OPTIONS: dict[str, Any] = {}
READS: frozenset[str] = frozenset()
"""What problems depend on beyond their own resource (`rules.core.reuse`). The parse error is read
off the file alone."""


def check(ctx: Context, options: dict[str, Any]) -> Iterator[Problem]:
    for file in ctx.of_kind(FILE_KIND):
        problem = file.body.get("problem", "invalid YAML")
        hint = ""
        if file.body.get("placeholders"):
            hint = (
                " (an unrendered ${...} placeholder? Flux and kustomize parse a file before "
                "substituting it; if a tool such as envsubst renders it first, exclude it in "
                ".github/footgun.yml)"
            )
        yield Problem(
            file,
            (),
            f"{describe(file)} looks like a Kubernetes manifest but does not parse: {problem}{hint}",
            identity=("yaml",),
        )
