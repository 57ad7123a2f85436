"""The review of a pull request: the job, the words the App posts, idempotent publishing.

`job` analyses one head SHA and publishes, `comments` renders the check run and inline
comments (pure), `publish` writes them to GitHub exactly once, `notes` keeps the bot's inline
comments in step with waivers.

May import: bot.db, bot.github, bot.logs, bot.metrics, bot.queue, bot.settings, bot.waivers, rules
"""
