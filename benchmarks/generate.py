"""Generate a realistic Istio repository for the benchmarks, as a git repository.

2,000 resources (about 1 MB) across 20 namespaces in a few hundred files: per namespace a file of
mesh-wide objects (Namespace, PeerAuthentication, Sidecar, Gateway, AuthorizationPolicies,
ServiceEntries) and one file per application (Deployment, Service, VirtualService,
DestinationRule). A few footguns are sprinkled in, so the rules have something to report.
Deterministic: the same seed gives the same bytes.

    python benchmarks/generate.py DIR      # writes DIR and commits it
"""

from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path

NAMESPACES = 20
APPS_PER_NAMESPACE = 20
POLICIES_PER_NAMESPACE = 8
ENTRIES_PER_NAMESPACE = 8
WORDS = (
    "cart",
    "checkout",
    "payments",
    "ledger",
    "search",
    "catalog",
    "reviews",
    "ratings",
    "profile",
    "auth",
    "orders",
    "shipping",
    "billing",
    "pricing",
    "inventory",
    "emails",
    "notify",
    "reports",
    "ads",
    "recommend",
    "media",
    "upload",
    "gateway",
    "session",
)


def deployment(app: str, ns: str, rng: random.Random) -> str:
    version = f"v{rng.randint(1, 3)}"
    return f"""\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {app}-{version}
  namespace: {ns}
  labels:
    app: {app}
    version: {version}
spec:
  replicas: {rng.randint(2, 6)}
  selector:
    matchLabels:
      app: {app}
      version: {version}
  template:
    metadata:
      labels:
        app: {app}
        version: {version}
      annotations:
        sidecar.istio.io/proxyCPU: 100m
        sidecar.istio.io/proxyMemory: 128Mi
        sidecar.istio.io/proxyCPULimit: 500m
        sidecar.istio.io/proxyMemoryLimit: 256Mi
    spec:
      serviceAccountName: {app}
      containers:
      - name: {app}
        image: registry.example.com/{ns}/{app}:1.{rng.randint(0, 40)}.{rng.randint(0, 9)}
        ports:
        - containerPort: 8080
          name: http
        env:
        - name: LOG_LEVEL
          value: info
        - name: UPSTREAM
          value: http://{rng.choice(WORDS)}.{ns}.svc.cluster.local:8080
        readinessProbe:
          httpGet: {{path: /ready, port: 8080}}
        livenessProbe:
          httpGet: {{path: /healthz, port: 8080}}
        resources:
          requests: {{cpu: 100m, memory: 128Mi}}
          limits: {{cpu: "1", memory: 512Mi}}
"""


def service(app: str, ns: str) -> str:
    return f"""\
apiVersion: v1
kind: Service
metadata:
  name: {app}
  namespace: {ns}
  labels: {{app: {app}}}
spec:
  selector:
    app: {app}
  ports:
  - name: http
    port: 8080
    targetPort: 8080
"""


def virtual_service(app: str, ns: str, rng: random.Random, footgun: str | None) -> str:
    host = f"{app}.{ns}.svc.cluster.local"
    fault = ""
    if footgun == "fault":
        fault = (
            "  - fault:\n      delay:\n        fixedDelay: 5s\n        percentage: {value: 10}\n"
        )
        fault += f"    route:\n    - destination: {{host: {host}, subset: v1}}\n"
    short = app if footgun == "short-host" else host
    return f"""\
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: {app}
  namespace: {ns}
spec:
  hosts:
  - {short}
  gateways:
  - mesh
  - {ns}/public
  http:
{fault}  - name: canary
    match:
    - headers:
        x-canary: {{exact: "true"}}
    route:
    - destination: {{host: {host}, subset: v2}}
  - name: primary
    timeout: {rng.randint(2, 30)}s
    retries: {{attempts: 3, perTryTimeout: 2s, retryOn: "5xx,reset"}}
    route:
    - destination: {{host: {host}, subset: v1}}
      weight: 90
    - destination: {{host: {host}, subset: v2}}
      weight: 10
"""


def destination_rule(app: str, ns: str) -> str:
    return f"""\
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: {app}
  namespace: {ns}
spec:
  host: {app}.{ns}.svc.cluster.local
  trafficPolicy:
    connectionPool:
      http: {{http1MaxPendingRequests: 100, maxRequestsPerConnection: 10}}
    outlierDetection: {{consecutive5xxErrors: 5, interval: 30s, baseEjectionTime: 60s}}
  subsets:
  - name: v1
    labels: {{version: v1}}
  - name: v2
    labels: {{version: v2}}
"""


def namespace_file(ns: str, apps: list[str], rng: random.Random, permissive: bool) -> str:
    docs = [
        f"""\
apiVersion: v1
kind: Namespace
metadata:
  name: {ns}
  labels:
    istio.io/rev: stable
""",
        f"""\
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata:
  name: default
  namespace: {ns}
spec:
  mtls:
    mode: {"PERMISSIVE" if permissive else "STRICT"}
""",
        f"""\
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata:
  name: default
  namespace: {ns}
spec:
  egress:
  - hosts:
    - ./*
    - istio-system/*
""",
        f"""\
apiVersion: networking.istio.io/v1
kind: Gateway
metadata:
  name: public
  namespace: {ns}
spec:
  selector:
    istio: ingressgateway
  servers:
  - port: {{number: 443, name: https, protocol: HTTPS}}
    tls: {{mode: SIMPLE, credentialName: {ns}-cert}}
    hosts:
    - "*.{ns}.example.com"
""",
    ]
    for index in range(POLICIES_PER_NAMESPACE):
        app = apps[index % len(apps)]
        caller = rng.choice(apps)
        docs.append(f"""\
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: {app}-allow-{index}
  namespace: {ns}
spec:
  selector:
    matchLabels: {{app: {app}}}
  action: ALLOW
  rules:
  - from:
    - source:
        principals: ["cluster.local/ns/{ns}/sa/{caller}"]
    to:
    - operation:
        methods: ["GET", "POST"]
        paths: ["/api/*"]
  - to:
    - operation:
        paths: ["/healthz", "/ready"]
""")
    for index in range(ENTRIES_PER_NAMESPACE):
        docs.append(f"""\
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: external-{index}
  namespace: {ns}
spec:
  hosts:
  - api{index}.{rng.choice(WORDS)}.example.org
  location: MESH_EXTERNAL
  resolution: DNS
  ports:
  - {{number: 443, name: https, protocol: TLS}}
""")
    return "---\n".join(docs)


def generate(root: Path, seed: int = 7) -> list[Path]:
    """Write the repository files under `root`; returns the app files (diff benchmarks edit them)."""
    rng = random.Random(seed)
    app_files = []
    for n in range(NAMESPACES):
        ns = f"team-{n:02d}"
        apps = [
            f"{WORDS[i % len(WORDS)]}{'' if i < len(WORDS) else i}"
            for i in range(APPS_PER_NAMESPACE)
        ]
        folder = root / "mesh" / ns
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "namespace.yaml").write_text(namespace_file(ns, apps, rng, permissive=n == 3))
        for i, app in enumerate(apps):
            footgun = {(5, 2): "fault", (11, 7): "fault", (8, 4): "short-host"}.get((n, i))
            text = "---\n".join(
                [
                    deployment(app, ns, rng),
                    service(app, ns),
                    virtual_service(app, ns, rng, footgun),
                    destination_rule(app, ns),
                ]
            )
            path = folder / f"{app}.yaml"
            path.write_text(text)
            app_files.append(path)
    return app_files


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)


def make_repository(root: Path, seed: int = 7) -> list[Path]:
    """Generate and commit the repository; returns the app files."""
    root.mkdir(parents=True, exist_ok=True)
    git(root, "init", "-q", "-b", "main")
    git(root, "config", "user.email", "bench@example.com")
    git(root, "config", "user.name", "bench")
    app_files = generate(root, seed)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "base")
    return app_files


def change_files(root: Path, files: list[Path], count: int = 5) -> None:
    """Commit a change to `count` files: new timeouts, and one newly injected fault."""
    for index, path in enumerate(files[:count]):
        text = path.read_text().replace("timeout: ", "timeout: 1", 1)
        if index == 0:
            text = text.replace(
                "  - name: canary\n",
                "  - name: chaos\n    fault: {abort: {httpStatus: 503}}\n"
                "    route:\n    - destination: {host: chaos}\n  - name: canary\n",
                1,
            )
        path.write_text(text)
    git(root, "commit", "-q", "-am", f"change {count} files")


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "bench-repo")
    files = make_repository(target)
    total = sum(p.stat().st_size for p in target.rglob("*.yaml"))
    print(f"{target}: {len(list(target.rglob('*.yaml')))} files, {total / 1e6:.2f} MB")
