"""The mesh as Istio reads it: the cross-resource index and the readers rules share.

`index` (lookups by host, subset, Gateway, Sidecar, namespace, workload), `hosts` (short-name
expansion, wildcards), `references` (where resources name hosts, subsets, Gateways),
`mesh_config` (mesh-wide settings wherever they are installed), `authz`, `peer_authentication`
and `quantities` (what a policy or a quantity means).

May import: rules.core (never bot, never a rule module)
"""
