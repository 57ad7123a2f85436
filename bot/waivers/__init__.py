"""Waivers: the `/footgun` commands, who may waive what, the store, the ledger, deadlines.

`grammar` parses a comment's commands, `handler` runs them as the `command` job, `policy`
decides (no I/O), `store` keeps waivers and their audit log, `ledger` is `footgun waivers
list`, `sweeper` sends reminders and enforces deadlines, `reported` keeps the findings each
review reported at a head (what a waive command resolves its target against).

May import: bot.db, bot.github, bot.logs, bot.metrics, bot.queue, bot.settings, rules
"""
