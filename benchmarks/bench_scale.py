"""`footgun diff` and `footgun check` as the repository grows: 2,000 and 12,000 resources.

The repository of `generate.py` with 20 or 120 namespaces (2,000 or 12,000 resources, 1.1 or
6.5 MB); a second commit changes 5 application files. Measured with the real console script:
median wall and CPU time (user + system, children included) and the peak resident memory of
the process (`ru_maxrss` of the child), for a cold `footgun check` and for a warm `footgun diff`
(every cache filled by an earlier diff against the same base, the usual case in CI and for the
App's later pushes), and for a later push that changes one more file: its head was never analysed,
and reuses the base's analysis (`rules.core.reuse`).

    .venv/bin/python benchmarks/bench_scale.py --runs 5
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import generate

ROOT = Path(__file__).resolve().parents[1]


def run(command: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float, int]:
    """(wall, cpu, peak RSS in MB) of one run of `command` in a child process."""
    script = (
        "import os, resource, subprocess, sys, time\n"
        "start = time.perf_counter()\n"
        "subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL)\n"
        "wall = time.perf_counter() - start\n"
        "usage = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
        "print(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script, *command], cwd=cwd, env=env, capture_output=True, text=True
    ).stdout.split()
    return float(out[0]), float(out[1]), int(out[2]) // 1024


def median(runs: int, prepare, command, cwd, env) -> tuple[float, float, int]:
    results = []
    for _ in range(runs):
        prepare()
        results.append(run(command, cwd, env))
    return (
        statistics.median(r[0] for r in results),
        statistics.median(r[1] for r in results),
        max(r[2] for r in results),
    )


def measure(namespaces: int, runs: int, work: Path) -> list[tuple[str, tuple[float, float, int]]]:
    generate.NAMESPACES = namespaces
    repo, cache = work / f"repo-{namespaces}", work / f"cache-{namespaces}"
    app_files = generate.make_repository(repo)
    generate.change_files(repo, app_files[::80][:5], count=5)
    env = {
        **os.environ,
        "XDG_CACHE_HOME": str(cache),
        "PYTHONPATH": str(ROOT),
        "PYTHONPYCACHEPREFIX": str(work / "pycache"),
    }
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    command = [sys.executable, "-m", "bot.cli.main"]

    def empty() -> None:
        shutil.rmtree(cache, ignore_errors=True)

    rows = []
    check = [*command, "check", "--format", "json", "."]
    rows.append(("footgun check, cold cache", median(runs, empty, check, repo, env)))
    diff = [*command, "diff", "HEAD~1", "HEAD", "--format", "json"]
    run(diff, repo, env)  # fills every cache, the base's analysis included
    rows.append(("footgun diff, 5 files, warm cache", median(runs, lambda: None, diff, repo, env)))
    # A later push to the same pull request: one more file, never analysed, against the base
    # whose analysis the first diff stored.
    generate.change_files(repo, app_files[40::80][:1], count=1)
    later = [*command, "diff", "HEAD~2", "HEAD", "--format", "json"]
    rows.append(
        ("footgun diff, a later push (6 files)", median(runs, lambda: None, later, repo, env))
    )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="footgun-scale-"))
    try:
        print(f"  {'':<44}  {'wall':>7}    {'cpu':>7}    {'peak RSS':>8}")
        for namespaces in (20, 120):
            for name, (wall, cpu, rss) in measure(namespaces, args.runs, work):
                label = f"{namespaces * 100:,} resources: {name}"
                print(f"  {label:<44}  {wall:7.3f} s  {cpu:7.3f} s  {rss:6d} MB")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
