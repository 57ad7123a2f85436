"""Everything with I/O: the App, its queue, GitHub, waivers and the `footgun` CLI.

The map (each subpackage's docstring says what it owns and what it may import; a test holds
them to it):

- `settings`, `logs`, `metrics`, `db`: the foundation every package may reach (settings from
  the environment, JSON logs, Prometheus metrics, the database models and engine).
- `queue/`: the durable job queue, the in-process workers, retention of old rows.
- `github/`: the GitHub client, a pull request's change set, tarballs, diffs, comment markers.
- `waivers/`: slash commands (grammar and the command job), who may waive, the waiver store,
  the ledger, the deadline sweeper.
- `review/`: the review job, the words the App posts, idempotent publishing, waiver notes.
- `web/`: the Starlette app, webhook intake and what each event means, the setup flow.
- `cli/`: the `footgun` command and its output formats, reading files and git revisions.

`rules` (pure analysis) is imported by all of these and imports none of them; `render` (building
what the repository deploys: Kustomize) imports `rules` and is used by `cli/` and `github/`.
"""
