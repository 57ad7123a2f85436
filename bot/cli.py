"""The `footgun` command line: the same engine as the App, for laptops and CI."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import rules as registry
from bot import formats, sources
from rules.config import Config, ConfigError, parse_config
from rules.engine import Report, analyse

DEFAULT_CONFIG = ".github/footgun.yml"
EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """Bad input from the user: printed as one line, exit code 2."""


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        return args.handler(args)
    except (UsageError, ConfigError, sources.SourceError) as exc:
        print(f"footgun: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="footgun", description="Find Istio configuration footguns before they reach production."
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    check = commands.add_parser("check", help="analyse files and folders")
    check.add_argument("paths", nargs="*", default=["."], metavar="PATH")
    _output_options(check)
    check.set_defaults(handler=run_check)

    diff = commands.add_parser("diff", help="analyse two git revisions; report what is new")
    diff.add_argument("base", metavar="BASE")
    diff.add_argument("head", nargs="?", default="HEAD", metavar="HEAD")
    _output_options(diff)
    diff.set_defaults(handler=run_diff)

    rules_cmd = commands.add_parser("rules", help="list the rules")
    rules_cmd.add_argument("--format", choices=["text", "markdown", "json"], default="text")
    rules_cmd.set_defaults(handler=run_rules)
    _app_commands(commands)
    _waiver_commands(commands)
    return parser


def _output_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=formats.REPORT_FORMATS, default="text")
    parser.add_argument("--config", metavar="FILE", help=f"config file (default: {DEFAULT_CONFIG})")


def run_check(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    report = analyse(sources.from_paths(args.paths), config=config)
    return _emit(report, args.format, new_only=False)


def run_diff(args: argparse.Namespace) -> int:
    base_files = sources.from_git(args.base)
    head_files = sources.from_git(args.head)
    if args.config:
        config = load_config(args.config)
    else:
        config = _config_at(args.base, base_files)
    wanted = [f for f in base_files + head_files if config.wants(f.path)]
    sources.read_blobs(wanted)
    report = analyse(
        [f for f in head_files if config.wants(f.path)],
        [f for f in base_files if config.wants(f.path)],
        config,
    )
    return _emit(report, args.format, new_only=True)


def run_rules(args: argparse.Namespace) -> int:
    sys.stdout.write(formats.render_rules(args.format))
    return EXIT_OK


def load_config(path: str | None) -> Config:
    """The config file named, or the default one where it exists, or the defaults."""
    file = Path(path or DEFAULT_CONFIG)
    if not file.exists():
        if path:
            raise UsageError(f"{path}: no such config file")
        return Config()
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{file}: cannot read config: {exc}") from None
    return parse_config(text, registry.option_defaults(), str(file))


def _config_at(revision: str, files: list[sources.SourceFile]) -> Config:
    """The config as committed at `revision` (the base), as the App reads it."""
    for source in files:
        if source.path == DEFAULT_CONFIG:
            sources.read_blobs([source])
            text = source.data.decode("utf-8", "replace") if isinstance(source.data, bytes) else source.data
            return parse_config(text, registry.option_defaults(), f"{revision}:{DEFAULT_CONFIG}")
    return Config()


def _emit(report: Report, fmt: str, new_only: bool) -> int:
    sys.stdout.write(formats.render_report(report, fmt, color=sys.stdout.isatty()))
    return EXIT_FINDINGS if report.failing(new_only) else EXIT_OK


def _app_commands(commands: argparse._SubParsersAction) -> None:
    """The App's processes: `serve`, `worker`, `db upgrade` (their imports wait until they run)."""
    serve = commands.add_parser("serve", help="run the GitHub App: webhooks, workers, health, metrics")
    serve.add_argument("--host", default="0.0.0.0", help="address to listen on (default: 0.0.0.0)")
    serve.add_argument("--port", type=int, default=8000, help="port to listen on (default: 8000)")
    serve.add_argument("--workers", type=int, metavar="N", help="in-process job workers (default: FOOTGUN_WORKERS)")
    serve.set_defaults(handler=run_serve)

    worker = commands.add_parser("worker", help="run job workers without the web server (replicas on PostgreSQL)")
    worker.add_argument("--workers", type=int, metavar="N", help="job workers (default: FOOTGUN_WORKERS)")
    worker.set_defaults(handler=run_worker)

    database = commands.add_parser("db", help="database maintenance")
    actions = database.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    upgrade = actions.add_parser("upgrade", help="apply the database migrations")
    upgrade.set_defaults(handler=run_db_upgrade)


def _app_settings(args: argparse.Namespace):
    """The settings from the environment, logging set up; a bad variable is a usage error."""
    from bot import logs
    from bot.settings import SettingsError, load_settings

    overrides = {}
    if getattr(args, "workers", None) is not None:
        if args.workers < 0:
            raise UsageError("--workers: must be 0 or more")
        overrides["workers"] = args.workers
    try:
        settings = load_settings(**overrides)
    except SettingsError as exc:
        raise UsageError(str(exc)) from None
    for secret in settings.secrets():
        logs.register_secret(secret)
    logs.configure(settings.log_level)
    return settings


def run_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from bot.app import create_app

    settings = _app_settings(args)
    uvicorn.run(
        create_app(settings),
        host=args.host,
        port=args.port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=15,
    )
    return EXIT_OK


def run_worker(args: argparse.Namespace) -> int:
    import asyncio

    from bot.app import Runtime

    settings = _app_settings(args)
    if not settings.has_app_credentials:
        from bot.settings import registration_hint

        raise UsageError(registration_hint(settings))
    asyncio.run(_work(Runtime(settings)))
    return EXIT_OK


async def _work(runtime) -> None:
    """Run the workers until SIGINT or SIGTERM, then let running jobs finish."""
    import asyncio
    import signal

    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stopping.set)
    await runtime.start()
    try:
        await stopping.wait()
    finally:
        await runtime.stop()


def run_db_upgrade(args: argparse.Namespace) -> int:
    import asyncio

    from bot import db

    settings = _app_settings(args)

    async def upgrade() -> None:
        database = db.open_database(settings.database_url)
        try:
            await db.migrate(database.engine)
        finally:
            await database.dispose()

    try:
        asyncio.run(upgrade())
    except OSError as exc:
        raise UsageError(f"cannot reach the database at {settings.database_url_for_logs}: {exc}") from None
    print(f"footgun: database at {settings.database_url_for_logs} is up to date")
    return EXIT_OK


def _waiver_commands(commands: argparse._SubParsersAction) -> None:
    """`sweep` (deadlines, for cron) and `waivers list` (the ledger), both over the App's database."""
    sweep = commands.add_parser("sweep", help="send waiver reminders and enforce passed deadlines once")
    sweep.add_argument("--now", metavar="TIMESTAMP", type=_timestamp,
                       help="judge deadlines at this UTC time (YYYY-MM-DD[THH:MM[:SS]]) instead of now")
    sweep.add_argument("--dry-run", action="store_true",
                       help="only show what would happen (reads the database, calls nothing)")
    sweep.set_defaults(handler=run_sweep)

    waivers_cmd = commands.add_parser("waivers", help="the waiver ledger")
    actions = waivers_cmd.add_subparsers(dest="waivers_command", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="list waivers")
    listing.add_argument("--repo", metavar="OWNER/NAME", help="only this repository")
    which = listing.add_mutually_exclusive_group()
    for name in ("active", "expired", "overdue"):
        which.add_argument(f"--{name}", dest="which", action="store_const", const=name, help=f"only {name} waivers")
    listing.add_argument("--format", choices=["table", "json", "csv"], default="table")
    listing.add_argument("--now", metavar="TIMESTAMP", type=_timestamp,
                         help="judge deadlines at this UTC time instead of now")
    listing.set_defaults(handler=run_waivers_list, which="all")


def _timestamp(text: str):
    """A UTC instant from `YYYY-MM-DD` (start of that day) or an ISO 8601 time (naive means UTC)."""
    import datetime as dt

    try:
        value = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date or time such as 2026-12-31 or 2026-12-31T12:00")
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def run_sweep(args: argparse.Namespace) -> int:
    settings = _app_settings(args)
    if not args.dry_run and not settings.has_app_credentials:
        from bot.settings import registration_hint

        raise UsageError(registration_hint(settings))
    outcomes = _with_database(settings, lambda database: _sweep(settings, database, args.now, args.dry_run))
    for outcome in outcomes:
        print(f"footgun: {outcome}")
    if not outcomes:
        print("footgun: nothing to do")
    return EXIT_OK


async def _sweep(settings, database, now, dry_run: bool):
    from bot import sweeper
    from bot.db import utcnow

    now = now or utcnow()
    if dry_run:
        return await sweeper.preview(database.sessions, now)
    from bot.github import open_client

    async with open_client(settings) as github:
        return await sweeper.sweep(database.sessions, github, now)


def run_waivers_list(args: argparse.Namespace) -> int:
    from bot import ledger
    from bot.db import utcnow

    settings = _app_settings(args)

    async def listing(database):
        return await ledger.rows(database.sessions, repository=args.repo, which=args.which, now=args.now or utcnow())

    sys.stdout.write(ledger.render(_with_database(settings, listing), args.format))
    return EXIT_OK


def _with_database(settings, work):
    """Run `work(database)` on the App's database (migrated first when it is the embedded SQLite)."""
    import asyncio

    from bot import db

    async def main():
        database = db.open_database(settings.database_url)
        try:
            if settings.is_sqlite:
                await db.migrate(database.engine)
            return await work(database)
        finally:
            await database.dispose()

    try:
        return asyncio.run(main())
    except OSError as exc:
        raise UsageError(f"cannot reach the database at {settings.database_url_for_logs}: {exc}") from None


if __name__ == "__main__":
    sys.exit(main())
