"""Measure `footgun check` and `footgun diff` on a generated repository, against the naive baseline.

    python benchmarks/bench_cli.py [--runs 7] [--keep DIR]

Each figure is the median wall time of several runs of the real command as a subprocess (Python
startup and imports included, as a user or CI pays them):

- check, cold cache: every run starts with an empty parse cache (every file parsed and stored);
- check, warm cache: the cache holds every file (the common case on a laptop or a CI cache);
- check --no-cache: parse everything, store nothing;
- diff of 5 changed files, warm cache: the blobs of the base are cached, 5 changed blobs are not
  (each run starts from the same cache state); once with the parse cache only (the rules run on
  both revisions, base in a forked child), once with the base's findings cached too (as on every
  push to a pull request after the first);
- the naive baseline: ruamel.yaml round-trip loading of the same files, in-process (no startup),
  the way a linter that keeps comments and positions would parse them.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parents[1])]

from generate import change_files, make_repository  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def footgun() -> list[str]:
    script = Path(sys.executable).with_name("footgun")
    return [str(script)] if script.exists() else [sys.executable, "-m", "bot.cli.main"]


def timed(command: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    """Wall time and CPU time (user + system, children included) of one run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    out = subprocess.run(
        command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if out.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(command)} failed: {out.stderr.decode()}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return elapsed, cpu


def median_of(
    runs: int, before, command: list[str], cwd: Path, env: dict[str, str]
) -> tuple[float, float]:
    walls, cpus = [], []
    for _ in range(runs):
        before()
        wall, cpu = timed(command, cwd, env)
        walls.append(wall)
        cpus.append(cpu)
    return statistics.median(walls), statistics.median(cpus)


def naive_baseline(files: list[Path]) -> float:
    from ruamel.yaml import YAML

    yaml = YAML(typ="rt")
    start = time.perf_counter()
    for path in files:
        with path.open(encoding="utf-8") as handle:
            list(yaml.load_all(handle))
    return time.perf_counter() - start


def pyyaml_full_load(files: list[Path]) -> float:
    import yaml

    start = time.perf_counter()
    for path in files:
        list(yaml.load_all(path.read_bytes(), Loader=yaml.CSafeLoader))
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--keep", metavar="DIR", help="generate the repository here and keep it")
    args = parser.parse_args()

    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="footgun-bench-"))
    repo, cache = work / "repo", work / "cache"
    if repo.exists():
        shutil.rmtree(repo)
    app_files = make_repository(repo)
    files = sorted(repo.rglob("*.yaml"))
    size = sum(p.stat().st_size for p in files)
    # Compiled bytecode is kept, as on any normal install (a session that sets
    # PYTHONDONTWRITEBYTECODE would otherwise compile every module on every run).
    env = {
        **os.environ,
        "XDG_CACHE_HOME": str(cache),
        "PYTHONPATH": str(ROOT),
        "PYTHONPYCACHEPREFIX": str(work / "pycache"),
    }
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    command = footgun()
    timed([*command, "rules"], repo, env)

    import rules as registry

    print(
        f"repository: {len(files)} files, {size / 1e6:.2f} MB, 2,000 resources; "
        f"{len(registry.RULES)} rules registered; {os.cpu_count()} cores; median of {args.runs} runs"
    )

    def empty_cache() -> None:
        shutil.rmtree(cache, ignore_errors=True)

    figures: list[tuple[str, tuple[float, float | None]]] = []
    figures.append(
        (
            "python -c pass (interpreter startup)",
            median_of(args.runs, lambda: None, [sys.executable, "-c", "pass"], repo, env),
        )
    )
    figures.append(
        (
            "footgun rules (startup and imports)",
            median_of(args.runs, lambda: None, [*command, "rules"], repo, env),
        )
    )
    check = [*command, "check", "--format", "json", "."]
    figures.append(
        ("footgun check, cold cache", median_of(args.runs, empty_cache, check, repo, env))
    )
    timed(check, repo, env)
    figures.append(
        ("footgun check, warm cache", median_of(args.runs, lambda: None, check, repo, env))
    )
    figures.append(
        (
            "footgun check --no-cache",
            median_of(args.runs, lambda: None, [*check, "--no-cache"], repo, env),
        )
    )

    # The diff: cache warmed on the base revision only, restored before each run.
    change_files(repo, app_files[::80][:5], count=5)
    diff = [*command, "diff", "HEAD~1", "HEAD", "--format", "json"]
    empty_cache()
    timed([*command, "diff", "HEAD~1", "HEAD~1", "--format", "json"], repo, env)
    saved = work / "cache-base"
    shutil.rmtree(saved, ignore_errors=True)
    shutil.copytree(cache, saved)

    parse_only = work / "cache-base-parse-only"
    shutil.rmtree(parse_only, ignore_errors=True)
    shutil.copytree(saved, parse_only, ignore=shutil.ignore_patterns("findings-*"))

    def restore(folder: Path):
        def before() -> None:
            shutil.rmtree(cache, ignore_errors=True)
            shutil.copytree(folder, cache)

        return before

    figures.append(
        (
            "footgun diff, 5 changed files, warm parse cache",
            median_of(args.runs, restore(parse_only), diff, repo, env),
        )
    )
    figures.append(
        (
            "footgun diff, 5 changed files, warm cache + base findings",
            median_of(args.runs, restore(saved), diff, repo, env),
        )
    )
    timed(diff, repo, env)
    figures.append(
        (
            "footgun diff, nothing to parse (all cached)",
            median_of(args.runs, lambda: None, diff, repo, env),
        )
    )

    figures.append(("PyYAML CSafeLoader, full load, in-process", (pyyaml_full_load(files), None)))
    figures.append(
        ("naive: ruamel.yaml round-trip load, in-process", (naive_baseline(files), None))
    )

    width = max(len(name) for name, _ in figures)
    print(f"  {'':<{width}}  {'wall':>7}    {'cpu':>7}")
    for name, (wall, cpu) in figures:
        cpu_text = f"{cpu:7.3f} s" if cpu is not None else ""
        print(f"  {name:<{width}}  {wall:7.3f} s  {cpu_text}")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
