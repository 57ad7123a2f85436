"""The analysis core: the data model, documents and positions, the loader, config, engine.

`model` (resources in, findings out), `document` (a YAML document and where its keys are),
`loader` (files to resources), `config` (`.github/footgun.yml`), `context` (what a rule sees),
`engine` (rules over base and head, fingerprints, new/waived), `waivers` (what a waiver covers),
`gitops` (the plain folders Argo CD and Flux deploy, and to which namespace).

May import: rules (never bot: the analysis is pure)
"""
