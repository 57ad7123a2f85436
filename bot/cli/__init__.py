"""The `footgun` command line and its output formats.

`main` parses arguments and dispatches subcommands; `sources` reads the working tree or a git
revision; `parse_cache` keeps parsed files on disk; `rendering` renders Helm charts (cached on
disk); `two_cores` uses the second core; `comparison` compares a diff's two revisions;
`formats` and `output/` render reports (text, JSON, SARIF, GitHub annotations) and the rule docs.

May import: bot, render, rules (it is the top of the tree: nothing imports it but the console script)
"""
