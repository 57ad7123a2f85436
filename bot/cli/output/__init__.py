"""One module per output format (text, JSON, SARIF, GitHub annotations) and the rule docs.

`bot.cli.formats` picks one by name. Each is a pure function of a report.

May import: rules
"""
