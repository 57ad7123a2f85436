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


if __name__ == "__main__":
    sys.exit(main())
