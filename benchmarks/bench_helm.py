"""Measure rendering a repository of Helm charts: cold, warm (one values file changed), naive.

    python benchmarks/bench_helm.py [--runs 5]

The repository: 20 application charts (a Deployment, a Service, a VirtualService, a
DestinationRule, a PeerAuthentication and a `_helpers.tpl` each), each rendered with its
`values.yaml` and with a `values-prod.yaml` named by the config (40 renders), plus an Argo CD
Application installing the istiod chart with inline values (mesh config, nothing to render).

- cold: a new Helm worker (its start-up included), an empty render cache: 40 renders, the
  rendered manifests parsed, then the rules over them and the plain files (`analyse`);
- warm, one values file changed: a new worker, the render cache of the cold run; one chart's
  `values-prod.yaml` changes, so 1 render; then the rules;
- no cache: every chart and values set rendered every time through one worker, then the rules;
- naive baseline: `helm template` per chart and values set, every time: one engine process per
  render (`OneShot`), no cache, then the rules.

Each figure is the median wall time of `--runs` runs in this process (the CLI's own start-up,
about 0.15 s, comes on top). Peak memory: this process and the largest Helm worker.

Then the real commands on the same repository as a git repository (`cli_figures`), as a user
pays them (start-up included): `footgun check` with an empty cache, and `footgun diff BASE HEAD`
where HEAD changes one chart's `values-prod.yaml`, with the cache a `footgun check` of BASE
left (each run starts from a copy of it).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path[:0] = [str(Path(__file__).resolve().parents[1])]

from render.gitops import uses  # noqa: E402
from render.helm import HelmEngine  # noqa: E402
from render.helm_targets import ChartSpec, render_charts  # noqa: E402
from rules.core.config import Config  # noqa: E402
from rules.core.engine import analyse  # noqa: E402
from rules.core.loader import SourceFile, load  # noqa: E402

CHARTS = 20

TEMPLATES = {
    "templates/_helpers.tpl": """\
{{- define "app.labels" -}}
app: {{ .Chart.Name }}
release: {{ .Release.Name }}
{{- end }}
""",
    "templates/deployment.yaml": """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Chart.Name }}
  labels:
    {{- include "app.labels" . | nindent 4 }}
spec:
  replicas: {{ .Values.replicas }}
  selector:
    matchLabels:
      app: {{ .Chart.Name }}
  template:
    metadata:
      labels:
        {{- include "app.labels" . | nindent 8 }}
      annotations:
        proxy.istio.io/config: '{"holdApplicationUntilProxyStarts": true}'
    spec:
      containers:
      - name: app
        image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}"
        ports:
        - containerPort: 8080
        resources:
          {{- toYaml .Values.resources | nindent 10 }}
""",
    "templates/service.yaml": """\
apiVersion: v1
kind: Service
metadata:
  name: {{ .Chart.Name }}
spec:
  selector:
    app: {{ .Chart.Name }}
  ports:
  - name: http
    port: 80
    targetPort: 8080
""",
    "templates/virtualservice.yaml": """\
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: {{ .Chart.Name }}
spec:
  hosts:
  - {{ .Chart.Name }}
  http:
  - route:
    - destination:
        host: {{ .Chart.Name }}
        subset: v1
    timeout: {{ .Values.timeout }}
    {{- if .Values.chaos.enabled }}
    fault:
      abort:
        httpStatus: 503
        percentage:
          value: 1
    {{- end }}
""",
    "templates/destinationrule.yaml": """\
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: {{ .Chart.Name }}
spec:
  host: {{ .Chart.Name }}
  subsets:
  - name: v1
    labels:
      app: {{ .Chart.Name }}
""",
    "templates/peerauthentication.yaml": """\
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata:
  name: {{ .Chart.Name }}
spec:
  selector:
    matchLabels:
      app: {{ .Chart.Name }}
  mtls:
    mode: {{ .Values.mtls }}
""",
}

VALUES = """\
replicas: 2
image:
  repository: registry.example/app
  tag: "1.0"
resources:
  requests: {cpu: 100m, memory: 128Mi}
  limits: {cpu: 500m, memory: 256Mi}
timeout: 5s
mtls: STRICT
chaos:
  enabled: false
"""

PROD = """\
replicas: 6
timeout: {timeout}
chaos:
  enabled: {chaos}
"""

ISTIOD_APPLICATION = """\
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: istiod
  namespace: argocd
spec:
  destination:
    namespace: istio-system
  source:
    chart: istiod
    repoURL: https://istio-release.storage.googleapis.com/charts
    targetRevision: 1.24.2
    helm:
      valuesObject:
        meshConfig:
          defaultConfig:
            holdApplicationUntilProxyStarts: true
"""


def repository(changed: bool = False) -> dict[str, bytes]:
    files: dict[str, bytes] = {"argocd/istiod.yaml": ISTIOD_APPLICATION.encode()}
    for number in range(CHARTS):
        root = f"charts/app-{number:02d}"
        files[f"{root}/Chart.yaml"] = (
            f"apiVersion: v2\nname: app-{number:02d}\nversion: 1.0.0\n".encode()
        )
        files[f"{root}/values.yaml"] = VALUES.encode()
        timeout = "9s" if changed and number == 7 else "3s"
        chaos = "true" if number == 3 else "false"
        files[f"{root}/values-prod.yaml"] = PROD.format(timeout=timeout, chaos=chaos).encode()
        for path, text in TEMPLATES.items():
            files[f"{root}/{path}"] = text.encode()
    return files


SPECS = [ChartSpec(f"charts/app-{n:02d}", ["values-prod.yaml"]) for n in range(CHARTS)]


class OneShot(HelmEngine):
    """An engine process per render, as a loop over `helm template` would start."""

    def render(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().render(*args, **kwargs)
        finally:
            self.close()


def run(
    files: dict[str, bytes],
    cache: dict | None,
    parsed: dict | None = None,
    engine_class: type[HelmEngine] = HelmEngine,
) -> tuple[float, int, int]:
    """One full pass; (seconds, renders, findings)."""
    started = time.perf_counter()
    with engine_class() as engine:
        engine.spawn()  # as the CLI does first: the worker starts while files are read
        plain = [SourceFile(p, d) for p, d in files.items() if p.startswith("argocd/")]
        resources, _ = load(plain)
        chart_uses, _ = uses(resources, files, {s.path for s in SPECS})
        outcome = render_charts(
            files, engine, specs=SPECS, uses=chart_uses, cache=cache, parse_cache=parsed
        )
        rendered = [
            SourceFile(f"{t.name}/{d.template}#{i}", d.document.text, _key(d.document.text))
            for t in outcome.targets
            for i, d in enumerate(t.documents)
        ]
        report = analyse([*plain, *rendered], config=Config(), cache=parsed)
        renders = engine.renders
    return time.perf_counter() - started, renders, len(report.findings)


def _key(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def median(samples: list[float]) -> str:
    return f"{statistics.median(samples):.3f} s"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    base, head = repository(), repository(changed=True)

    cold, warm, uncached, naive = [], [], [], []
    renders: dict[str, int] = {}
    for _ in range(args.runs):
        cache: dict = {}
        parsed: dict = {}
        seconds, renders["cold"], findings = run(base, cache, parsed)
        cold.append(seconds)
        seconds, renders["warm"], _ = run(head, cache, parsed)
        warm.append(seconds)
        seconds, renders["uncached"], _ = run(head, None)
        uncached.append(seconds)
        seconds, renders["naive"], _ = run(head, None, engine_class=OneShot)
        naive.append(seconds)
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    worker = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"charts: {CHARTS}, values sets: {2 * CHARTS}, findings: {findings}")
    print(f"cold (new worker, empty cache): {median(cold)}  renders {renders['cold']}")
    print(f"warm, one values file changed:  {median(warm)}  renders {renders['warm']}")
    print(f"no cache, one worker:           {median(uncached)}  renders {renders['uncached']}")
    print(f"naive, a process per render:    {median(naive)}  renders {renders['naive']}")
    print(f"peak memory: this process {own:.0f} MiB, Helm worker {worker:.0f} MiB")


def cli_figures(runs: int) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch) / "repo"
        write(root, repository())
        git(root, "init", "-q", "-b", "main")
        git(root, "add", "-A")
        git(root, "-c", "user.name=b", "-c", "user.email=b@example.com", "commit", "-qm", "base")
        base = git(root, "rev-parse", "HEAD")
        cold = [footgun(root, Path(scratch) / f"cold{i}", "check", ".") for i in range(runs)]
        warm_base = Path(scratch) / "warm-base"
        footgun(root, warm_base, "check", ".")
        write(root, repository(changed=True))
        git(root, "-c", "user.name=b", "-c", "user.email=b@example.com", "commit", "-qam", "head")
        warm = []
        for i in range(runs):
            cache = Path(scratch) / f"warm{i}"
            shutil.copytree(warm_base, cache)
            warm.append(footgun(root, cache, "diff", base, "HEAD"))
    print(f"footgun check, cold cache:             {median(cold)}")
    print(f"footgun diff, one values file changed: {median(warm)}")


def write(root: Path, files: dict[str, bytes]) -> None:
    for path, data in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(data)


def git(root: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=root, check=True, capture_output=True, text=True
    ).stdout.strip()


def footgun(root: Path, cache: Path, *args: str) -> float:
    script = Path(sys.executable).with_name("footgun")
    env = {**os.environ, "XDG_CACHE_HOME": str(cache)}
    started = time.perf_counter()
    subprocess.run([str(script), *args, "--format", "json"], cwd=root, env=env, capture_output=True)
    return time.perf_counter() - started


if __name__ == "__main__":
    main()
    cli_figures(int(sys.argv[sys.argv.index("--runs") + 1]) if "--runs" in sys.argv else 5)
