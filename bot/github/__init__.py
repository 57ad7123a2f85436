"""The GitHub side: the client, what a pull request changes, and the bot's own comment markers.

`client` (githubkit per installation, every call counted, errors mapped), `changeset` (changed
files and manifests at base and head, cached by blob SHA), `tarball` (a commit's manifests in
one call), `diffs` (commentable lines, patches), `markers` (how the bot recognises its comments).

May import: bot.metrics, bot.queue, bot.settings, render, rules
"""
