"""What schema validation costs: three validators compared, and `footgun check` with and without it.

    python benchmarks/bench_schema.py [--runs 7] [--fixtures DIR]

1. Loading the schemas: `rules.schema.store.load()` in a fresh interpreter (import included).
2. Validators, in-process, over the 2,000-resource benchmark repository (benchmarks/generate.py;
   its 1,180 Istio resources): the project's walker (rules/schema/validator.py, all problems with
   their key paths), `jsonschema` (Draft 4 validator over the CRDs' openAPIV3Schema made strict
   with `additionalProperties: false`, every error with its `absolute_path`) and `fastjsonschema`
   (the same schemas compiled to Python code; it stops at the first error, whose path it gives
   only inside the message text). CPU time of validating every resource once, best of --runs.
   jsonschema and fastjsonschema are not dependencies of the project: install them to compare
   (`pip install jsonschema fastjsonschema`); absent, their lines are skipped.
3. The real cost: a cold `footgun check` (empty parse cache) of the repository with the rule on
   and with `schema-invalid: off` in the config, interleaved, median wall and CPU of --runs.
"""

from __future__ import annotations

import argparse
import copy
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

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parents[1])]

from generate import make_repository  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT.parent / "shared" / "fixtures" / "istio-crds"


def footgun() -> list[str]:
    script = Path(sys.executable).with_name("footgun")
    return [str(script)] if script.exists() else [sys.executable, "-m", "bot.cli.main"]


def cpu_best(runs: int, work) -> float:
    best = float("inf")
    for _ in range(runs):
        start = time.process_time()
        work()
        best = min(best, time.process_time() - start)
    return best


def strict(schema: Any) -> Any:
    """openAPIV3Schema as JSON Schema that rejects what the API server prunes."""
    if isinstance(schema, list):
        return [strict(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {
        k: strict(v)
        for k, v in schema.items()
        if not k.startswith("x-kubernetes-") and k not in ("description", "nullable")
    }
    if schema.get("x-kubernetes-int-or-string"):
        out.pop("anyOf", None)
        out["type"] = ["integer", "string"]
    if schema.get("nullable") and "type" in out:
        out["type"] = [out["type"], "null"] if isinstance(out["type"], str) else out["type"]
    if (
        schema.get("type") == "object"
        and "additionalProperties" not in schema
        and not schema.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    if "properties" in out:
        out["properties"] = {k: strict(v) for k, v in schema["properties"].items()}
    return out


def crd_schemas() -> dict[tuple[str, str, str], dict[str, Any]]:
    import yaml

    out = {}
    path = FIXTURES / "crd-all.1.30.3.gen.yaml"
    with path.open(encoding="utf-8") as handle:
        for doc in yaml.load_all(handle, Loader=yaml.CSafeLoader):
            if not isinstance(doc, dict) or doc.get("kind") != "CustomResourceDefinition":
                continue
            spec = doc["spec"]
            for version in spec["versions"]:
                root = copy.deepcopy(version["schema"]["openAPIV3Schema"])
                root.setdefault("properties", {}).update(
                    {"apiVersion": {"type": "string"}, "kind": {"type": "string"}}
                )
                root["properties"].pop("status", None)
                converted = strict(root)
                converted["properties"]["metadata"] = {"type": "object"}  # ObjectMeta: any
                out[(spec["group"], version["name"], spec["names"]["kind"])] = converted
    return out


def resources_of(repo: Path) -> list[Any]:
    from rules.core.loader import SourceFile, load

    files = [SourceFile(str(p), p.read_bytes()) for p in sorted(repo.rglob("*.yaml"))]
    loaded, _ = load(files)
    return [r for r in loaded if r.group.endswith(".istio.io")]


def compare_validators(resources: list[Any], runs: int) -> list[tuple[str, float, int, str]]:
    from rules import schema_invalid
    from rules.core.config import Config
    from rules.core.context import Context

    context = Context(resources, Config())
    rows = []
    own = cpu_best(runs, lambda: list(schema_invalid.check(context, {})))
    problems = len(list(schema_invalid.check(context, {})))
    rows.append(("own walker (rules/schema)", own, problems, "every problem, key path"))
    if not FIXTURES.exists():
        return rows
    schemas = crd_schemas()
    keyed = [
        (schemas.get((r.group, r.api_version.split("/")[1], r.kind)), r.body) for r in resources
    ]
    keyed = [(s, b) for s, b in keyed if s is not None]
    try:
        import jsonschema
    except ImportError:
        print("jsonschema not installed: skipped")
    else:
        validators = {id(s): jsonschema.Draft4Validator(s) for s, _ in keyed}

        def run_jsonschema() -> int:
            return sum(len(list(validators[id(s)].iter_errors(b))) for s, b in keyed)

        errors = run_jsonschema()
        rows.append(
            (
                "jsonschema Draft4Validator",
                cpu_best(runs, run_jsonschema),
                errors,
                "every error, path",
            )
        )
    try:
        import fastjsonschema
    except ImportError:
        print("fastjsonschema not installed: skipped")
    else:
        start = time.process_time()
        unique = {id(s): s for s, _ in keyed}
        compiled = {key: fastjsonschema.compile(s) for key, s in unique.items()}
        compile_time = time.process_time() - start

        def run_fast() -> int:
            failed = 0
            for s, b in keyed:
                try:
                    compiled[id(s)](b)
                except fastjsonschema.JsonSchemaException:
                    failed += 1
            return failed

        failed = run_fast()
        rows.append(
            (
                f"fastjsonschema (+{compile_time:.1f} s to compile {len(unique)} schemas)",
                cpu_best(runs, run_fast),
                failed,
                "first error only, path in the message",
            )
        )
    return rows


def timed(command: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    out = subprocess.run(
        command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if out.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(command)} failed: {out.stderr.decode()}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="footgun-schema-bench-"))
    repo, cache = work / "repo", work / "cache"
    make_repository(repo)
    env = {
        **os.environ,
        "XDG_CACHE_HOME": str(cache),
        "PYTHONPATH": str(ROOT),
        "PYTHONPYCACHEPREFIX": str(work / "pycache"),
    }
    env.pop("PYTHONDONTWRITEBYTECODE", None)

    # After `import rules` (the CLI imports the rules anyway): what the first resource costs.
    load = [
        sys.executable,
        "-c",
        "import rules, time; t = time.perf_counter(); import rules.schema.problems; "
        "from rules.schema import store; store.load(); print((time.perf_counter() - t) * 1000)",
    ]
    subprocess.run(load, env=env, capture_output=True, check=True)  # bytecode
    loads = [
        float(subprocess.run(load, env=env, capture_output=True, check=True, text=True).stdout)
        for _ in range(args.runs)
    ]
    print(
        "schema load (validator import + read + index, after `import rules`), fresh "
        f"interpreter: median {statistics.median(loads):.1f} ms, best {min(loads):.1f} ms"
    )

    resources = resources_of(repo)
    print(f"\nvalidators over {len(resources)} Istio resources (CPU, best of {args.runs}):")
    for name, seconds, count, gives in compare_validators(resources, args.runs):
        print(f"  {name:48s} {seconds * 1000:8.1f} ms  ({count} problems; {gives})")

    # Both sides read a config file, so both pay for the config parser alike.
    off, on = work / "off.yml", work / "on.yml"
    off.write_text("rules:\n  schema-invalid: off\n", encoding="utf-8")
    on.write_text("rules:\n  schema-invalid: on\n", encoding="utf-8")
    check = [*footgun(), "check", "--format", "json", "."]
    timed(check, repo, env)
    results: dict[str, list[tuple[float, float]]] = {"on": [], "off": []}
    for _ in range(args.runs):
        for label, config in (("on", on), ("off", off)):
            shutil.rmtree(cache, ignore_errors=True)
            results[label].append(timed([*check, "--config", str(config)], repo, env))
    print(f"\nfootgun check, cold cache (median of {args.runs}, interleaved):")
    for label in ("off", "on"):
        walls, cpus = zip(*results[label], strict=True)
        print(
            f"  schema-invalid {label:3s}  wall {statistics.median(walls):.3f} s  "
            f"CPU {statistics.median(cpus):.3f} s"
        )
    wall_on = statistics.median(w for w, _ in results["on"])
    wall_off = statistics.median(w for w, _ in results["off"])
    cpu_on = statistics.median(c for _, c in results["on"])
    cpu_off = statistics.median(c for _, c in results["off"])
    print(
        f"  added: wall {(wall_on / wall_off - 1) * 100:+.1f} %, CPU {(cpu_on / cpu_off - 1) * 100:+.1f} %"
    )
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
