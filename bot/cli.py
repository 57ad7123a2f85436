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
    if not settings.has_app_credentials and settings.setup_enabled:
        import logging

        logging.getLogger("bot.setup").warning("GitHub App not configured: open %s to register it",
                                               setup_url(settings, args.host, args.port))
    uvicorn.run(
        create_app(settings),
        host=args.host,
        port=args.port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=15,
    )
    return EXIT_OK


def setup_url(settings, host: str, port: int) -> str:
    """Where to open /setup: FOOTGUN_PUBLIC_URL, else the address served (localhost for all)."""
    if settings.public_url:
        return f"{settings.public_url}/setup"
    shown = "localhost" if host in ("", "0.0.0.0", "::") else (f"[{host}]" if ":" in host else host)
    return f"http://{shown}:{port}/setup"


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


if __name__ == "__main__":
    sys.exit(main())
