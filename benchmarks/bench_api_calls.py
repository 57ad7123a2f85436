"""GitHub API calls per review, against pull-request size and repository size.

Runs the real review handler against the in-repo fake GitHub (in-process, through respx) and
counts the requests it makes: with a cold blob cache (a new process) and a warm one (the next push
to the same repository, the usual case for a long-running App). Prints one row per case. API calls
count against the installation's 5,000 an hour; archive downloads (the tarball's redirect target on
the download host) do not, and are shown apart.

    .venv/bin/python benchmarks/bench_api_calls.py
    .venv/bin/python benchmarks/bench_api_calls.py --blobs-only   # never read a tarball
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections import Counter
from pathlib import Path

import respx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.github import changeset, tarball
from bot.review import job as review
from tests.fakegithub.world import job_context, make_world, virtual_service

REPO_SIZES = (100, 500, 2000)
PR_SIZES = (1, 10, 100)


TEAMS = 40


def kustomizations(repo_size: int) -> dict[str, str]:
    """One kustomization root per team folder, listing its manifests (`--kustomize`)."""
    return {
        f"apps/team{t}/kustomization.yaml": "resources:\n"
        + "".join(f"- vs{i}.yaml\n" for i in range(t, repo_size, TEAMS))
        for t in range(TEAMS)
    }


def measure(
    repo_size: int, pr_size: int, kustomize: bool = False
) -> list[tuple[str, int, int, float, str]]:
    changeset.CACHE = changeset.BlobCache()  # a new process: nothing cached
    rows = []
    with respx.mock(assert_all_called=False) as mock:
        world = make_world(mock)
        base = {
            f"apps/team{i % TEAMS}/vs{i}.yaml": virtual_service(f"svc{i}") for i in range(repo_size)
        }
        if kustomize:
            base.update(kustomizations(repo_size))
        for label, offset in (("cold", 0), ("warm", pr_size)):
            head = {
                f"apps/team{i % TEAMS}/vs{i}.yaml": virtual_service(f"svc{i}", fault=True)
                for i in range(offset, offset + pr_size)
            }
            pull = world.pull(base, head)
            world.fake.log.clear()
            world.fake.codeload.requests.clear()
            started = time.perf_counter()
            asyncio.run(review.run(job_context(world, pull)))
            elapsed = time.perf_counter() - started
            kinds = Counter(_kind(r.method, r.path) for r in world.fake.log)
            detail = ", ".join(f"{k} {n}" for k, n in kinds.most_common())
            rows.append(
                (label, len(world.fake.log), len(world.fake.codeload.requests), elapsed, detail)
            )
    return rows


def _kind(method: str, path: str) -> str:
    if "access_tokens" in path:
        return "POST installation token"
    for marker in (
        "git/blobs",
        "git/trees",
        "tarball",
        "check-runs",
        "reviews",
        "comments",
        "files",
    ):
        if marker in path:
            return f"{method} {marker}"
    return f"{method} {path.rsplit('/', 2)[-2]}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blobs-only", action="store_true", help="never read a tarball")
    parser.add_argument(
        "--kustomize",
        action="store_true",
        help="every team folder is a kustomization root (40 roots, built at base and head)",
    )
    args = parser.parse_args()
    if args.blobs_only:
        tarball.TARBALL_THRESHOLD = 10**9
    print(
        f"{'repository':>10} {'PR files':>8} {'cache':>5} {'calls':>6} {'downloads':>9} "
        f"{'seconds':>8}  by kind"
    )
    for repo_size in REPO_SIZES:
        for pr_size in PR_SIZES:
            if pr_size * 2 > repo_size:
                continue
            rows = measure(repo_size, pr_size, args.kustomize)
            for label, calls, downloads, seconds, detail in rows:
                print(
                    f"{repo_size:>10} {pr_size:>8} {label:>5} {calls:>6} {downloads:>9} "
                    f"{seconds:>8.2f}  {detail}"
                )


if __name__ == "__main__":
    main()
