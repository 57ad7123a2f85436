"""Istio's and the Gateway API's CRD schemas, and a walker that validates resources against them.

`data.json` is generated from the projects' published CRDs by `scripts/generate_schemas.py`
(sources, versions and licence are recorded in it and in NOTICE); `store` loads it on first use;
`validator` walks a resource against one schema and reports what the API server would reject or
silently prune, each at a key path; `durations` reads Go durations as the API server's CEL does;
`problems` picks each resource's schema (set, group, kind, apiVersion) and words the findings of
rule schema-invalid.

May import: rules.core (never bot, never a rule module)
"""
