"""Measure what the GitHub Action's analysis step costs beyond `footgun diff` itself.

`footgun action` on a pull request runs the same diff and then writes annotations, the job
summary, SARIF and the step outputs. On the generated repository (2,000 resources, 5 files
changed, warm cache), it is compared with `footgun diff --format github` and `--format json`:

    .venv/bin/python benchmarks/bench_action.py --runs 9
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parents[1])]

from bench_cli import ROOT, footgun, median_of, timed  # noqa: E402
from generate import change_files, make_repository  # noqa: E402


def revision(repo: Path) -> str:
    return subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, check=True
    ).stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="footgun-bench-action-"))
    repo = work / "repo"
    app_files = make_repository(repo)
    base = revision(repo)
    change_files(repo, app_files)
    head = revision(repo)
    event = work / "event.json"
    event.write_text(json.dumps({"pull_request": {"base": {"sha": base}, "head": {"sha": head}}}))
    outputs, summary = work / "outputs", work / "summary"
    env = {
        **os.environ,
        "XDG_CACHE_HOME": str(work / "cache"),
        "PYTHONPATH": str(ROOT),
        "PYTHONPYCACHEPREFIX": str(work / "pycache"),
        "GITHUB_EVENT_NAME": "pull_request",
        "GITHUB_EVENT_PATH": str(event),
        "GITHUB_REPOSITORY": "acme/mesh",
        "GITHUB_SHA": head,
        "GITHUB_OUTPUT": str(outputs),
        "GITHUB_STEP_SUMMARY": str(summary),
        "RUNNER_TEMP": str(work),
        "FOOTGUN_SARIF": "true",
    }
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    command = footgun()
    timed([*command, "diff", base, "--format", "json"], repo, env)  # warm the caches

    def fresh_files() -> None:
        outputs.write_text("")
        summary.write_text("")

    print(f"median of {args.runs} runs, warm cache; wall s / CPU s")
    for name, argv in (
        ("footgun diff BASE --format json", ["diff", base, "--format", "json"]),
        ("footgun diff BASE --format github", ["diff", base, "--format", "github"]),
        ("footgun action (annotations, summary, SARIF, outputs)", ["action"]),
    ):
        wall, cpu = median_of(args.runs, fresh_files, [*command, *argv], repo, env)
        print(f"{name:58} {wall:6.2f} {cpu:6.2f}")
    print(
        f"summary: {summary.stat().st_size:,} bytes; SARIF: {(work / 'footgun.sarif').stat().st_size:,} bytes"
    )
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
