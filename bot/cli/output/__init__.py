"""One module per output format (text, JSON, SARIF, GitHub annotations, the Action's job
summary) and the rule docs.

`bot.cli.formats` picks one by name. Each is a pure function of a report; `ranking` orders
findings for the outputs that can show only some of them.

May import: rules, bot.github.markdown (the one Markdown escaping, shared with the App)
"""
