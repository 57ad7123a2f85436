"""Rendering: turn what the repository deploys (Helm charts, GitOps definitions) into manifests.

`helm` (the Helm engine, in a child process: `helm_worker`), `charts` (charts and the values
sets the repository names for them), `gitops` (Argo CD Applications and ApplicationSets, Flux
Kustomizations and HelmReleases), `helm_sourcemap` (rendered chart keys back to template and
values lines).

May import: rules (never bot: rendering is part of the analysis)
"""
