"""The durable job queue: enqueue, claim under a lease, run in workers, keep tables small.

Owns the `jobs` and `deliveries` rows' life cycle (`jobs`), the workers and periodic tasks
(`worker`) and retention (`retention`).

May import: bot.db, bot.logs, bot.metrics, bot.settings
"""
