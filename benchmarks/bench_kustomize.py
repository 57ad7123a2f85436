"""Kustomize targets: 40 overlays over shared bases, 2,000 rendered resources.

Generates a git repository (deterministic) of two shared bases (`bases/shop`: 12 applications
of Deployment, Service, VirtualService and DestinationRule; `bases/mesh`: a namespace-wide
Sidecar and PeerAuthentication) and 40 overlays `overlays/team-NN`, each setting its namespace,
adding a label and patching timeouts (one overlay adds a fault). 40 x 50 = 2,000 rendered
resources. A second commit changes one overlay's patch, for the diff.

Measured, with the real `footgun` console script (CPU = user + system, children included):

- `footgun check`, cold caches (every overlay built and parsed), beside the plain-file check
  of the same 2,000 resources (the rendered output written as plain manifests, cold cache);
- `footgun diff HEAD~1 HEAD`, caches warm from a run on the base: only the overlay the change
  touched is built again;
- the naive loop: one `kubectl kustomize` per overlay, every time.

    .venv/bin/python benchmarks/bench_kustomize.py --runs 5
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OVERLAYS = 40
APPS = 12


def app(name: str) -> str:
    return f"""\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  labels: {{app: {name}}}
spec:
  selector:
    matchLabels: {{app: {name}}}
  template:
    metadata:
      labels: {{app: {name}, version: v1}}
    spec:
      containers:
      - name: {name}
        image: registry.example.com/{name}:1.0
        ports:
        - containerPort: 8080
---
apiVersion: v1
kind: Service
metadata:
  name: {name}
spec:
  selector: {{app: {name}}}
  ports:
  - name: http
    port: 8080
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: {name}
spec:
  hosts:
  - {name}
  http:
  - name: main
    route:
    - destination:
        host: {name}
        subset: v1
    timeout: 5s
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: {name}
spec:
  host: {name}
  subsets:
  - name: v1
    labels: {{version: v1}}
"""


MESH = """\
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata:
  name: default
spec:
  egress:
  - hosts: ["./*", "istio-system/*"]
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata:
  name: default
spec:
  mtls:
    mode: STRICT
"""


def patch(team: int, timeout: str, fault: bool) -> str:
    extra = (
        "    fault:\n      abort:\n        percentage: {value: 100}\n        httpStatus: 503\n"
        if fault
        else ""
    )
    return f"""\
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: app-00
spec:
  http:
  - name: main
{extra}    route:
    - destination:
        host: app-00
        subset: v1
    timeout: {timeout}
"""


def generate(repo: Path) -> None:
    """The repository with two commits: the layout, then one overlay's patch changed."""
    files: dict[str, str] = {
        "bases/shop/kustomization.yaml": "resources:\n"
        + "".join(f"- app-{i:02d}.yaml\n" for i in range(APPS)),
        "bases/mesh/kustomization.yaml": "resources: [mesh.yaml]\n",
        "bases/mesh/mesh.yaml": MESH,
    }
    for i in range(APPS):
        files[f"bases/shop/app-{i:02d}.yaml"] = app(f"app-{i:02d}")
    for team in range(OVERLAYS):
        folder = f"overlays/team-{team:02d}"
        files[f"{folder}/kustomization.yaml"] = (
            f"namespace: team-{team:02d}\n"
            f"labels:\n- pairs: {{team: team-{team:02d}}}\n"
            "resources:\n- ../../bases/shop\n- ../../bases/mesh\n"
            "patches:\n- path: timeouts.yaml\n"
        )
        files[f"{folder}/timeouts.yaml"] = patch(team, f"{team + 1}s", fault=team == 7)
    write_commit(repo, files, "layout")
    files["overlays/team-03/timeouts.yaml"] = patch(3, "30s", fault=True)
    write_commit(repo, files, "team-03 tries a fault")


def write_commit(repo: Path, files: dict[str, str], message: str) -> None:
    for path, text in files.items():
        target = repo / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    if not (repo / ".git").exists():
        git(repo, "init", "-q")
    git(repo, "add", "-A")
    git(
        repo,
        "-c",
        "user.name=bench",
        "-c",
        "user.email=bench@example.com",
        "commit",
        "-qm",
        message,
    )


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True)


def plain_copy(repo: Path, plain: Path) -> int:
    """The rendered output of every overlay as plain manifests: the same resources, no build."""
    plain.mkdir(parents=True, exist_ok=True)
    count = 0
    for overlay in sorted((repo / "overlays").iterdir()):
        out = subprocess.run(
            ["kubectl", "kustomize", str(overlay)], capture_output=True, text=True, check=True
        ).stdout
        (plain / f"{overlay.name}.yaml").write_text(out)
        count += out.count("\napiVersion:") + out.startswith("apiVersion:")
    return count


def footgun() -> list[str]:
    return [sys.executable, "-m", "bot.cli.main"]


def cpu_of(command: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    before = os.times()
    started = time.perf_counter()
    subprocess.run(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, check=False)
    wall = time.perf_counter() - started
    after = os.times()
    return wall, (after.children_user - before.children_user) + (
        after.children_system - before.children_system
    )


def median(runs: int, prepare, command, cwd, env) -> tuple[float, float]:
    walls, cpus = [], []
    for _ in range(runs):
        prepare()
        wall, cpu = cpu_of(command, cwd, env)
        walls.append(wall)
        cpus.append(cpu)
    return statistics.median(walls), statistics.median(cpus)


def naive_loop(repo: Path) -> tuple[float, float]:
    before = os.times()
    started = time.perf_counter()
    for overlay in sorted((repo / "overlays").iterdir()):
        subprocess.run(["kubectl", "kustomize", str(overlay)], capture_output=True, check=True)
    after = os.times()
    return time.perf_counter() - started, (after.children_user - before.children_user) + (
        after.children_system - before.children_system
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    if shutil.which("kubectl") is None:
        sys.exit("bench_kustomize: kubectl is needed")
    work = Path(tempfile.mkdtemp(prefix="footgun-kbench-"))
    repo, plain, cache = work / "repo", work / "plain", work / "cache"
    generate(repo)
    git(repo, "checkout", "-q", "HEAD~1")
    resources = plain_copy(repo, plain)
    git(repo, "checkout", "-q", "-")
    env = {
        **os.environ,
        "XDG_CACHE_HOME": str(cache),
        "PYTHONPATH": str(ROOT),
        "PYTHONPYCACHEPREFIX": str(work / "pycache"),
    }
    env.pop("PYTHONDONTWRITEBYTECODE", None)

    def empty() -> None:
        shutil.rmtree(cache, ignore_errors=True)

    command = footgun()
    cpu_of([*command, "rules"], repo, env)
    print(f"{OVERLAYS} overlays, {resources} rendered resources; median of {args.runs} runs")
    figures = []
    check = [*command, "check", "--format", "json", "."]
    figures.append(
        ("footgun check, cold caches (40 builds)", median(args.runs, empty, check, repo, env))
    )
    figures.append(
        (
            "footgun check of the same resources as plain files, cold cache",
            median(args.runs, empty, check, plain, env),
        )
    )
    cpu_of(check, repo, env)  # fill the caches
    figures.append(
        ("footgun check, warm caches", median(args.runs, lambda: None, check, repo, env))
    )

    # Warm diff: caches filled by a diff of the base against itself, restored before each run.
    diff = [*command, "diff", "HEAD~1", "HEAD", "--format", "json"]
    empty()
    cpu_of([*command, "diff", "HEAD~1", "HEAD~1", "--format", "json"], repo, env)
    saved = work / "cache-base"
    shutil.copytree(cache, saved)

    def restore() -> None:
        shutil.rmtree(cache, ignore_errors=True)
        shutil.copytree(saved, cache)

    figures.append(
        (
            "footgun diff, one overlay changed, warm caches",
            median(args.runs, restore, diff, repo, env),
        )
    )
    figures.append(("naive: kubectl kustomize per overlay (builds only)", naive_loop(repo)))
    width = max(len(name) for name, _ in figures)
    print(f"  {'':<{width}}  {'wall':>7}    {'cpu':>7}")
    for name, (wall, cpu) in figures:
        print(f"  {name:<{width}}  {wall:7.3f} s  {cpu:7.3f} s")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
