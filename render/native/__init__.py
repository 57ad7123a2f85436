"""The common kustomization built in-process, as `kubectl kustomize` builds it, else by the tool.

Each `kubectl kustomize` costs about 0.27 s of CPU however small the root (the Go binary starts,
loads its schema, builds): 40 overlays cost 11 s where reading the same 2,000 resources as
plain files costs 0.5 s. Most roots platform teams write use a handful of fields (resources,
a namespace, labels, patches), so `NativeBuilder` builds those itself and hands every other
root, unchanged, to the tool it wraps. It never guesses: anything outside the subset below, or
anything the tool would reject, goes to the tool, which also words the error.

The subset, with the Kustomize semantics it follows (kustomize v5.5, the one in kubectl 1.32,
read in sigs.k8s.io/kustomize `api/internal/target`, `api/filters`, `kyaml/yaml/merge2`):

- `resources`: local files (inside the kustomization's folder: the load restrictor) and local
  folders holding a kustomization (built first, recursively); no cycles, no resource twice.
- `components`: folders holding a `Component`, applied in order after the resources: a
  component's resources join the parent's, then its transformers run on all of them.
- Transformers in Kustomize's order: `patches`, then `namespace`, `labels`, `images`.
- `patches` (path or inline): a strategic-merge patch is applied by its own id, or to every
  resource its `target` selects (group, version, kind, name, namespace: anchored regular
  expressions; a resource matches by its original or current name and namespace). The merge is
  kyaml's `merge2`: maps merge key by key, `null` deletes, scalars replace; lists replace for
  custom resources (no schema, so no merge keys), and patches carrying a list for a Kubernetes
  kind (which has merge keys) or a `$patch`-style directive go to the tool. After the merge the
  resource keeps its name, namespace and kind. A JSON 6902 patch (RFC 6902: add, remove,
  replace, move, copy, test) applies to the resources its `target` selects.
- Values: Kustomize reads YAML 1.2 and prints every resource through JSON (`yes` comes out as
  the text "yes", `1e3` as 1000, `1.0` as 1); this project reads YAML 1.1. A file or patch with a
  plain scalar the two read differently, or a value the JSON trip changes, goes to the tool.
- `namespace`: set on every resource that is not cluster-scoped (Kustomize's list of
  Kubernetes kinds; a custom resource counts as namespaced) and as the name of a `v1` Namespace;
  role bindings, webhooks and APIServices under a namespace go to the tool (Kustomize rewrites
  the namespaces they name).
- `labels` without `includeSelectors` or `includeTemplates`: added to `metadata.labels`.
- `images` (name, newName, newTag, digest): the image of every container whose name matches.
- Output in Kustomize's legacy order, each resource annotated with its origin file (what
  `buildMetadata: [originAnnotations]` prints).

`tests/test_native_build.py` builds every kustomization it can find (the project's test
layouts, the benchmark's, `shared/fixtures/real-world`) both ways and requires the same
resources; each construct above has a case there.

- `builder`: `NativeBuilder` and the walk through kustomizations, resources and components;
- `resource`: a resource's body, origin and ids, and what Kustomize knows of its kind;
- `values`: YAML and JSON read as Kustomize would print them;
- `merge`: strategic-merge patches and their targets; `json_patch`: JSON 6902 patches;
- `transformers`: namespace, labels, images.

May import: render.build, rules
"""

from render.native.builder import ORIGIN, VERSION, NativeBuilder

__all__ = ["ORIGIN", "VERSION", "NativeBuilder"]
