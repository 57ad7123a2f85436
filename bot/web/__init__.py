"""The web server: the Starlette app, webhook intake, what each event means, the setup flow.

`app` composes routes, health, metrics and the workers' lifespan; `webhooks` verifies and stores
deliveries; `events` maps (event, action) to state and jobs; `setup` registers the App.

May import: bot.db, bot.github, bot.logs, bot.metrics, bot.queue, bot.settings, bot.waivers
"""
