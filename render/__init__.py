"""The render stage: what a repository snapshot deploys, as targets the rules can analyse.

A snapshot (path -> content, plus a way to read the few non-YAML files a build needs) and the
config go in; a `rules.core.targets.Revision` comes out: the plain files, the resources of every
target that was built (each with its target and an origin mapping key paths back to the file and
line a person edits), the targets that failed (`render-failed`) and those skipped with a reason.

- `targets`: the one entry point, `render_revision`, and the `Snapshot` it reads.
- `kustomize`: kustomization roots, what they reference, the checks done before any tool runs
  (remote bases, paths out of the repository, missing files, Helm inside Kustomize).
- `build`: runs `kubectl kustomize` / `kustomize build` safely (a temporary folder holding only
  the snapshot, no network, no plugins or exec functions, no Helm, load restrictor on, a time
  and an output limit), behind the `Builder` interface so tests and rules never need kubectl.
- `native`: the common kustomization (resources, components, namespace, labels, images,
  patches) built in-process as the tool builds it, 30 times cheaper than starting it;
  everything else goes to the tool (`build`). The default `Builder`.
- `sourcemap`: where a rendered key path comes from: the patch that set it, else the base file.
- `helm_targets`: Helm charts as a second kind of target, once per values set: `charts` (charts
  and the values sets the repository names for them), `gitops` (Argo CD Applications and
  ApplicationSets, Flux Kustomizations and HelmReleases), `helm` (the Helm engine, in a child
  process: `helm_worker`), `helm_sourcemap` (rendered chart keys back to template and values
  lines).

Rendering runs tools, so it is not part of `rules`, which stays pure.

May import: rules
"""
