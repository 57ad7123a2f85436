"""The `footgun` command line: the same engine as the App, for laptops and CI.

Each subcommand is one `add_*` function (its arguments) and one `run_*` handler; `COMMANDS` lists
the `add_*` functions, so adding a subcommand is adding two functions and one line. Handlers import
what they need when they run: `footgun check` must not pay for the App stack at startup.

Exit codes: 0 nothing to fail on, 1 findings to fail on (unwaived errors for `check`, new unwaived
errors for `diff`), 2 usage or input error, reported as one line on stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from bot.cli.formats import REPORT_FORMATS, RULE_FORMATS

if TYPE_CHECKING:
    import datetime as dt

    from bot.db import Database
    from bot.settings import Settings
    from bot.web.app import Runtime
    from render.helm_targets import ChartEngine
    from rules.core.config import Config
    from rules.core.engine import Report
    from rules.core.loader import ParseCache, SourceFile
    from rules.core.model import Skipped
    from rules.core.targets import Revision

DEFAULT_CONFIG = ".github/footgun.yml"
EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2

Subcommands = Any  # argparse's private _SubParsersAction


class UsageError(Exception):
    """Bad input from the user: printed as one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (what was wrong, where to read more)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{message} (see '{self.prog} --help')")


def main(argv: list[str] | None = None) -> int:
    """The console script (`argv` None: the process's own arguments) or a call from tests."""
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        if not getattr(args, "handler", None):
            parser.print_help(sys.stderr)
            return EXIT_USAGE
        if argv is None and getattr(args, "short_lived", False):
            return _run_short_lived(args)
        code: int = args.handler(args)
        return code
    except UsageError as exc:
        return _fail(str(exc))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`footgun check | head`): not an error of ours.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except Exception as exc:
        from bot.cli.sources import SourceError
        from rules.core.config import ConfigError

        if isinstance(exc, ConfigError | SourceError):
            return _fail(str(exc))
        raise


def _run_short_lived(args: argparse.Namespace) -> int:
    """Run an analysis as a process that ends right after it.

    The analysis builds trees of plain data without reference cycles, so the cyclic garbage
    collector only burns time on it, and tearing the heap down at exit is wasted work too: with
    the output flushed, the process ends at once (about a tenth of a warm `footgun diff`).
    """
    import gc

    gc.disable()
    code = args.handler(args)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _fail(message: str) -> int:
    print(f"footgun: {message}", file=sys.stderr)
    return EXIT_USAGE


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="footgun",
        description="Find Istio configuration footguns before they reach production.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for add in COMMANDS:
        add(commands)
    return parser


# --- check -------------------------------------------------------------------------------------


def add_check(commands: Subcommands) -> None:
    check = commands.add_parser("check", help="analyse files and folders")
    check.add_argument("paths", nargs="*", default=["."], metavar="PATH")
    _analysis_options(check)
    check.set_defaults(handler=run_check, short_lived=True)


def run_check(args: argparse.Namespace) -> int:
    report = check_report(args.paths, args.config, open_cache(args))
    return emit(report, args, new_only=False)


def check_report(paths: list[str], config_path: str | None, cache: ParseCache) -> Report:
    """The report of `footgun check PATH...` (also what the Action runs on a push)."""
    from bot.cli import sources
    from bot.cli.rendering import ChartRenderer
    from bot.cli.two_cores import parse_in_parallel
    from rules.core.engine import analyse

    sources.check_paths(paths)
    config = load_config(config_path)
    unreadable: list[Skipped] = []
    every = list(sources.from_paths(paths, unreadable))
    with ChartRenderer(persistent=not isinstance(cache, dict)) as renderer:
        renderer.warm_up(every)
        files = [f for f in every if config.wants(f.path)]
        parse_in_parallel(files, cache)
        revision = render_working_tree(paths, files, every, config, cache, renderer.charts)
    report = analyse(revision, config=config, cache=cache)
    report.skipped.extend(s for s in unreadable if config.wants(s.path))
    return report


def render_working_tree(
    paths: list[str],
    files: list[SourceFile],
    every: list[SourceFile],
    config: Config,
    cache: ParseCache,
    charts: ChartEngine | None = None,
) -> Revision:
    """What the named paths deploy: kustomization roots under them built (their bases may lie
    elsewhere under the current folder), charts rendered once per values set, every other file
    plain. `files` are the YAML files named, `every` every file read under the named paths."""
    from bot.cli import sources
    from rules.core.targets import Revision

    if config.render.kustomize == "off" or not all(_under_cwd(p) for p in paths):
        revision = Revision(plain=files)
        if charts is not None and _has_chart(every):
            from render.targets import add_charts

            add_charts(revision, every, config, charts, parse_cache=cache)
        return revision
    snapshot, within = sources.working_tree(paths, every)
    if not _has_kustomization(snapshot) and not _has_chart(snapshot):
        return Revision(plain=files)  # and the render stage is not even imported
    from render.targets import render_revision

    return render_revision(
        snapshot,
        config,
        read=sources.read_files,
        cache=open_build_cache(persistent=not isinstance(cache, dict)),
        parse_cache=cache,
        within=within,
        charts=charts,
    )


def _under_cwd(path: str) -> bool:
    relative = os.path.relpath(os.path.abspath(path))
    return relative != ".." and not relative.startswith(".." + os.sep)


# --- diff --------------------------------------------------------------------------------------


def add_diff(commands: Subcommands) -> None:
    diff = commands.add_parser(
        "diff", help="analyse two git revisions; report what is new (the working tree is not read)"
    )
    diff.add_argument("base", metavar="BASE")
    diff.add_argument("head", nargs="?", default="HEAD", metavar="HEAD")
    _analysis_options(diff)
    diff.set_defaults(handler=run_diff, short_lived=True)


def run_diff(args: argparse.Namespace) -> int:
    report = diff_report(args.base, args.head, args.config, open_cache(args), not args.no_cache)
    return emit(report, args, new_only=True, compared=True)


def diff_report(
    base: str,
    head: str,
    config_path: str | None,
    cache: ParseCache,
    keep_base: bool = True,
    wanted: Callable[[str], bool] | None = None,
) -> Report:
    """The report of `footgun diff BASE HEAD` (also what the Action and `footgun review` run on
    a pull request); `wanted` narrows the files analysed on both sides."""
    from bot.cli import sources
    from bot.cli.comparison import compare
    from bot.cli.two_cores import parse_in_parallel
    from rules.core.loader import cache_key

    base_commit = sources.resolve(base)
    head_commit = sources.resolve(head)
    base_all = sources.from_git(base_commit, every_file=True)
    head_all = sources.from_git(head_commit, every_file=True)
    if config_path:
        config = load_config(config_path)
    else:
        config = config_at(base, base_all)

    def keep(path: str) -> bool:
        return config.wants(path) and (wanted is None or wanted(path))

    base_files = [f for f in base_all if keep(f.path)]
    head_files = [f for f in head_all if keep(f.path)]
    with _chart_renderer(
        [*base_all, *head_all], persistent=not isinstance(cache, dict)
    ) as renderer:
        charts: tuple[str, ...] = ("\0",)  # a prefix no path has
        if renderer is not None:
            from bot.cli.rendering import chart_folders

            renderer.warm_up(head_all)
            charts = chart_folders([*base_all, *head_all])
        unread = {
            f.key
            for f in (*base_files, *head_files)
            if f.key is not None and cache_key(f) not in cache
        }
        unread.update(  # chart files are read whatever the parse cache holds: they are rendered
            f.key for f in (*base_all, *head_all) if f.key is not None and f.path.startswith(charts)
        )
        sources.read_blobs([*base_all, *head_all], unread)
        parse_in_parallel([*base_files, *head_files], cache)
        builds = open_build_cache(persistent=not isinstance(cache, dict))
        engine = renderer.charts if renderer is not None else None
        base_revision = render_commit(base_all, base_files, config, cache, builds, wanted, engine)
        head_revision = render_commit(head_all, head_files, config, cache, builds, wanted, engine)
    return compare(head_revision, base_revision, config, cache, keep_base=keep_base)


def _chart_renderer(files: list[SourceFile], persistent: bool) -> Any:
    """The Helm renderer for a diff, or nothing (and no import of the render stage) when
    neither revision holds a chart."""
    if not _has_chart(files):
        return contextlib.nullcontext()
    from bot.cli.rendering import ChartRenderer

    return ChartRenderer(persistent=persistent)


def render_commit(
    every_file: list[SourceFile],
    files: list[SourceFile],
    config: Config,
    cache: ParseCache,
    builds: Any,
    wanted: Callable[[str], bool] | None = None,
    charts: ChartEngine | None = None,
) -> Revision:
    """What a commit deploys. Builds and renders are cached by the content of their inputs, so
    base and head share every root and chart the change did not touch, and each is built once
    across runs."""
    from rules.core.targets import Revision

    if not _has_kustomization(every_file) and not _has_chart(every_file):
        return Revision(plain=files)  # and the render stage is not even imported
    from bot.cli import sources
    from render.targets import add_charts, render_revision

    def read(unread: list[SourceFile]) -> None:
        sources.read_blobs(unread, {f.key for f in unread if f.key})

    if config.render.kustomize == "off":
        revision = Revision(plain=files)
        if charts is not None:
            add_charts(revision, every_file, config, charts, read=read, parse_cache=cache)
        return revision
    return render_revision(
        every_file,
        config,
        read=read,
        cache=builds,
        parse_cache=cache,
        within=wanted,
        charts=charts,
    )


def _has_kustomization(files: list[SourceFile]) -> bool:
    names = ("kustomization.yaml", "kustomization.yml", "Kustomization")
    return any(f.path.rpartition("/")[2] in names for f in files)


def _has_chart(files: list[SourceFile]) -> bool:
    return any(f.path.rpartition("/")[2] == "Chart.yaml" for f in files)


def config_at(revision: str, files: list[SourceFile]) -> Config:
    """The config as committed at `revision` (the base), as the App reads it."""
    from bot.cli import sources
    from rules.core.config import Config

    for source in files:
        if source.path == DEFAULT_CONFIG:
            sources.read_blobs([source])
            data = source.data
            text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
            return _parse_config(text, f"{revision}:{DEFAULT_CONFIG}")
    return Config()


# --- action -----------------------------------------------------------------------------------


def add_action(commands: Subcommands) -> None:
    action = commands.add_parser(
        "action",
        help="the GitHub Action's analysis (reads the runner's environment; see action.yml)",
    )
    action.add_argument(
        "--no-cache", action="store_true", help="parse every file again (no parse cache)"
    )
    action.set_defaults(handler=run_action, short_lived=True)


def run_action(args: argparse.Namespace) -> int:
    """Bad input becomes an error annotation too: in a workflow, stderr is easy to miss."""
    from bot.cli import action, sources
    from bot.cli.output.github import command
    from rules.core.config import ConfigError

    try:
        runner = action.Runner.from_environment()
        cache = open_cache(args)
        return action.run(
            runner,
            lambda paths, config: check_report(paths, config, cache),
            lambda base, head, config, wanted: diff_report(
                base, head, config, cache, not args.no_cache, wanted
            ),
            sys.stdout.write,
        )
    except (action.ActionError, sources.SourceError, ConfigError, UsageError) as exc:
        sys.stdout.write(command("error", str(exc), title="footgun") + "\n")
        sys.stdout.flush()
        return _fail(str(exc))


# --- review -----------------------------------------------------------------------------------


def add_review(commands: Subcommands) -> None:
    review = commands.add_parser(
        "review",
        help="post the App's inline review and check run from a GitHub Actions workflow "
        "(GITHUB_TOKEN, GITHUB_EVENT_PATH)",
    )
    review.add_argument("--config", metavar="FILE", help=f"config file (default: {DEFAULT_CONFIG})")
    review.add_argument(
        "--no-cache", action="store_true", help="parse every file again (no parse cache)"
    )
    review.set_defaults(handler=run_review)


def run_review(args: argparse.Namespace) -> int:
    """Exit 1 when the change adds an unwaived error (as `footgun diff`), posted or not."""
    from bot.cli import action, review, sources
    from bot.cli.output.github import command
    from rules.core.config import ConfigError

    cache = open_cache(args)
    try:
        return review.run(
            dict(os.environ),
            lambda base, head, config, wanted: diff_report(
                base, head, args.config or config, cache, not args.no_cache, wanted
            ),
            sys.stdout.write,
        )
    except (action.ActionError, sources.SourceError, ConfigError, UsageError) as exc:
        sys.stdout.write(command("error", str(exc), title="footgun review") + "\n")
        sys.stdout.flush()
        return _fail(str(exc))


# --- rules -------------------------------------------------------------------------------------


def add_rules(commands: Subcommands) -> None:
    rules_cmd = commands.add_parser("rules", help="describe the rules")
    rules_cmd.add_argument("--format", choices=RULE_FORMATS, default="text")
    rules_cmd.set_defaults(handler=run_rules)


def run_rules(args: argparse.Namespace) -> int:
    from bot.cli import formats

    sys.stdout.write(formats.render_rules(args.format))
    return EXIT_OK


# --- shared ------------------------------------------------------------------------------------


def _analysis_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=REPORT_FORMATS, default="text")
    parser.add_argument("--config", metavar="FILE", help=f"config file (default: {DEFAULT_CONFIG})")
    parser.add_argument(
        "--no-cache",
        action="store_true",
        help="parse every file again instead of using the parse cache ($XDG_CACHE_HOME/footgun)",
    )
    parser.add_argument(
        "--sarif-category",
        metavar="NAME",
        help="SARIF: the category code scanning keeps this analysis under (automationDetails.id)",
    )


def load_config(path: str | None) -> Config:
    """The config file named, or the default one where it exists, or the defaults."""
    from rules.core.config import Config

    file = path or DEFAULT_CONFIG
    if not os.path.exists(file):
        if path:
            raise UsageError(f"{path}: no such config file")
        return Config()
    try:
        with open(file, encoding="utf-8") as handle:
            text = handle.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{file}: cannot read config: {exc}") from None
    return _parse_config(text, file)


def _parse_config(text: str, source: str) -> Config:
    import rules as registry
    from rules.core.config import parse_config

    return parse_config(text, registry.option_defaults(), source)


def open_cache(args: argparse.Namespace) -> ParseCache:
    """The on-disk parse cache, or (with --no-cache) one that lives for this run only."""
    if args.no_cache:
        return {}
    from bot.cli.parse_cache import ParseCache

    return ParseCache()


_BUILD_CACHE: Any = None


def open_build_cache(persistent: bool = True) -> Any:
    """Kustomize builds on disk next to the parse cache (one per process), or, with
    --no-cache, a dictionary for this run only."""
    global _BUILD_CACHE
    if not persistent:
        if not isinstance(_BUILD_CACHE, dict):
            _BUILD_CACHE = {}
        return _BUILD_CACHE
    if _BUILD_CACHE is None or isinstance(_BUILD_CACHE, dict):
        from bot.cli.parse_cache import BuildCache

        _BUILD_CACHE = BuildCache()
    return _BUILD_CACHE


def emit(report: Report, args: argparse.Namespace, new_only: bool, compared: bool = False) -> int:
    from bot.cli import formats

    fmt = args.format
    color = fmt == "text" and sys.stdout.isatty() and not os.environ.get("NO_COLOR")
    sys.stdout.write(
        formats.render_report(
            report, fmt, color=color, compared=compared, sarif_category=args.sarif_category
        )
    )
    sys.stdout.flush()
    return EXIT_FINDINGS if report.failing(new_only) else EXIT_OK


# --- the App's processes ------------------------------------------------------------------------


def _app_commands(commands: Subcommands) -> None:
    """The App's processes: `serve`, `worker`, `db upgrade` (their imports wait until they run)."""
    serve = commands.add_parser(
        "serve", help="run the GitHub App: webhooks, workers, health, metrics"
    )
    serve.add_argument(
        "--host",
        default="0.0.0.0",  # noqa: S104 (a container must listen beyond loopback)
        help="address to listen on (default: 0.0.0.0)",
    )
    serve.add_argument("--port", type=int, default=8000, help="port to listen on (default: 8000)")
    serve.add_argument(
        "--workers", type=int, metavar="N", help="in-process job workers (default: FOOTGUN_WORKERS)"
    )
    serve.set_defaults(handler=run_serve)

    worker = commands.add_parser(
        "worker", help="run job workers without the web server (replicas on PostgreSQL)"
    )
    worker.add_argument(
        "--workers", type=int, metavar="N", help="job workers (default: FOOTGUN_WORKERS)"
    )
    worker.set_defaults(handler=run_worker)

    database = commands.add_parser("db", help="database maintenance")
    actions = database.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    upgrade = actions.add_parser("upgrade", help="apply the database migrations")
    upgrade.set_defaults(handler=run_db_upgrade)


def _app_settings(args: argparse.Namespace) -> Settings:
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
    logs.configure(settings.log_level, log_format=settings.log_format)
    return settings


CONNECTIONS_MAX = 256
"""Connections and requests `footgun serve` takes at once (uvicorn's `limit_concurrency`)."""


def run_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from bot.web.app import create_app

    settings = _app_settings(args)
    _hold_database(settings)
    if not settings.has_app_credentials and settings.setup_enabled:
        import logging

        logging.getLogger("bot.web.setup").warning(
            "GitHub App not configured: open %s to register it",
            setup_url(settings, args.host, args.port),
        )
    uvicorn.run(
        create_app(settings),
        host=args.host,
        port=args.port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=15,
        # Past this many connections and requests at once, uvicorn answers 503 at once instead of
        # taking more on: a flood of slow clients cannot take all memory and file descriptors.
        limit_concurrency=CONNECTIONS_MAX,
        timeout_keep_alive=5,
    )
    return EXIT_OK


def _hold_database(settings: Settings) -> None:
    """Refuse with one line when another process serves the same SQLite file (kept to the end)."""
    from bot import db

    try:
        db.hold_sqlite_file(settings.database_url)
    except db.DatabaseInUse as exc:
        raise UsageError(str(exc)) from None


def setup_url(settings: Settings, host: str, port: int) -> str:
    """Where to open /setup: FOOTGUN_PUBLIC_URL, else the address served (localhost for all)."""
    if settings.public_url:
        return f"{settings.public_url}/setup"
    any_address = host in ("", "0.0.0.0", "::")  # noqa: S104 (recognising it, not binding to it)
    shown = "localhost" if any_address else (f"[{host}]" if ":" in host else host)
    return f"http://{shown}:{port}/setup"


def run_worker(args: argparse.Namespace) -> int:
    import asyncio

    from bot.web.app import Runtime

    settings = _app_settings(args)
    if not settings.has_app_credentials:
        from bot.settings import registration_hint

        raise UsageError(registration_hint(settings))
    _hold_database(settings)
    asyncio.run(_work(Runtime(settings)))
    return EXIT_OK


async def _work(runtime: Runtime) -> None:
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
    settings = _app_settings(args)
    _with_database(settings, None, migrate=True)
    print(f"footgun: database at {settings.database_url_for_logs} is up to date")
    return EXIT_OK


def _waiver_commands(commands: Subcommands) -> None:
    """`sweep` (deadlines, for cron) and `waivers list` (the ledger), both over the App's database."""
    sweep = commands.add_parser(
        "sweep", help="send waiver reminders and enforce passed deadlines once"
    )
    sweep.add_argument(
        "--now",
        metavar="TIMESTAMP",
        type=_timestamp,
        help="judge deadlines at this UTC time (YYYY-MM-DD[THH:MM[:SS]]) instead of now",
    )
    sweep.add_argument(
        "--dry-run",
        action="store_true",
        help="only show what would happen (reads the database, calls nothing)",
    )
    sweep.set_defaults(handler=run_sweep)

    waivers_cmd = commands.add_parser("waivers", help="the waiver ledger")
    actions = waivers_cmd.add_subparsers(
        dest="waivers_command", metavar="ACTION", required=True, parser_class=_Parser
    )
    listing = actions.add_parser("list", help="list waivers")
    listing.add_argument("--repo", metavar="OWNER/NAME", help="only this repository")
    which = listing.add_mutually_exclusive_group()
    for name in ("active", "expired", "overdue"):
        which.add_argument(
            f"--{name}", dest="which", action="store_const", const=name, help=f"only {name} waivers"
        )
    listing.add_argument("--format", choices=["table", "json", "csv"], default="table")
    listing.add_argument(
        "--now",
        metavar="TIMESTAMP",
        type=_timestamp,
        help="judge deadlines at this UTC time instead of now",
    )
    listing.set_defaults(handler=run_waivers_list, which="all")


def _timestamp(text: str) -> dt.datetime:
    """A UTC instant from `YYYY-MM-DD` (start of that day) or an ISO 8601 time (naive means UTC)."""
    import datetime as dt

    try:
        value = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a date or time such as 2026-12-31 or 2026-12-31T12:00"
        ) from None
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def run_sweep(args: argparse.Namespace) -> int:
    settings = _app_settings(args)
    if not args.dry_run and not settings.has_app_credentials:
        from bot.settings import registration_hint

        raise UsageError(registration_hint(settings))
    outcomes = _with_database(
        settings, lambda database: _sweep(settings, database, args.now, args.dry_run)
    )
    for outcome in outcomes:
        print(f"footgun: {outcome}")
    if not outcomes:
        print("footgun: nothing to do")
    return EXIT_OK


async def _sweep(
    settings: Settings, database: Database, now: dt.datetime | None, dry_run: bool
) -> Any:
    from bot.db import utcnow
    from bot.waivers import sweeper

    now = now or utcnow()
    if dry_run:
        return await sweeper.preview(database.sessions, now)
    from bot.github.client import open_client

    async with open_client(settings) as github:
        return await sweeper.sweep(database.sessions, github, now)


def run_waivers_list(args: argparse.Namespace) -> int:
    from bot.db import utcnow
    from bot.waivers import ledger

    settings = _app_settings(args)

    async def listing(database: Database) -> Any:
        return await ledger.rows(
            database.sessions, repository=args.repo, which=args.which, now=args.now or utcnow()
        )

    sys.stdout.write(ledger.render(_with_database(settings, listing), args.format))
    return EXIT_OK


def _with_database(settings: Settings, work: Any, migrate: bool | None = None) -> Any:
    """Run `work(database)` on the App's database, migrated first (by default, when it is the
    embedded SQLite: nobody else runs `footgun db upgrade` for it); None when `work` is None."""
    import asyncio

    from bot import db

    async def main() -> Any:
        database = db.open_database(settings.database_url)
        try:
            if settings.is_sqlite if migrate is None else migrate:
                await db.migrate(database.engine)
            return await work(database) if work is not None else None
        finally:
            await database.dispose()

    try:
        return asyncio.run(main())
    except OSError as exc:
        raise UsageError(
            f"cannot reach the database at {settings.database_url_for_logs}: {exc}"
        ) from None


COMMANDS: list[Callable[[Subcommands], None]] = [
    add_check,
    add_diff,
    add_action,
    add_review,
    add_rules,
    _app_commands,
    _waiver_commands,
]
"""Each adds its subcommands to the parser, in the order `footgun --help` lists them."""


if __name__ == "__main__":
    sys.exit(main())
