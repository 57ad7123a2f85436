"""Generate `rules/schema/data.json` from Istio's and the Gateway API's published CRDs.

    python scripts/generate_schemas.py [--fixtures DIR] [--out FILE] [--check]

Reads the CRD files listed in SETS from the fixtures folder (`../shared/fixtures/istio-crds` by
default, with their SOURCES.json and licence files) and writes one compact JSON file: per schema
set (`istio-1.30`, `istio-1.24`, `gateway-api-1.6-standard`, `gateway-api-1.6-experimental`),
per group, kind and served version, the root node of its `openAPIV3Schema`; the nodes themselves
are kept once in a shared table (identical subtrees, which the versions of one kind and the
releases of one project mostly are, are stored once).

A node keeps what the API server enforces and drops what it does not (descriptions, printer
columns, examples): type, properties, items, additionalProperties, enum, format, required,
nullable, default, numeric and length bounds, pattern, list types, preserve-unknown-fields,
int-or-string, the one-of groups Istio writes as `oneOf` of `required` branches, and the CEL
`x-kubernetes-validations` rules that match a known shape (durations, ranges, mutually exclusive
fields, ...), as small structured checks the walker evaluates (rules/schema/validator.py). Rules
of any other shape are counted in the file's `skipped` section, not silently dropped.

`--check` regenerates in memory and exits 1 when the committed file differs (tests do the same).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_FIXTURES = ROOT.parent / "shared" / "fixtures" / "istio-crds"
DEFAULT_OUT = ROOT / "rules" / "schema" / "data.json"
FORMAT = 1

SETS: dict[str, dict[str, str]] = {
    "istio-1.30": {"file": "crd-all.1.30.3.gen.yaml", "project": "Istio", "version": "1.30.3"},
    "istio-1.24": {"file": "crd-all.1.24.6.gen.yaml", "project": "Istio", "version": "1.24.6"},
    "gateway-api-1.6-standard": {
        "file": "gateway-api-v1.6.1-standard-install.yaml",
        "project": "Gateway API",
        "version": "v1.6.1",
        "channel": "standard",
    },
    "gateway-api-1.6-experimental": {
        "file": "gateway-api-v1.6.1-experimental-install.yaml",
        "project": "Gateway API",
        "version": "v1.6.1",
        "channel": "experimental",
    },
}
LICENSES = {"Istio": "LICENSE.istio", "Gateway API": "LICENSE.gateway-api"}

_SCALAR_KEYS = {
    "type": "t",
    "format": "f",
    "enum": "e",
    "nullable": "n",
    "default": "d",
    "minimum": "lo",
    "maximum": "hi",
    "exclusiveMinimum": "xlo",
    "exclusiveMaximum": "xhi",
    "minLength": "ml",
    "maxLength": "xl",
    "pattern": "pt",
    "minItems": "mi",
    "maxItems": "xi",
    "minProperties": "mp",
    "maxProperties": "xp",
    "x-kubernetes-list-type": "lt",
    "x-kubernetes-list-map-keys": "lk",
}
_IGNORED_KEYS = {"description", "example", "x-kubernetes-map-type", "title", "externalDocs"}

# --- CEL rules, by shape -------------------------------------------------------------------------
# Each pattern matches a whole rule, with all whitespace removed and double quotes turned into
# single ones, and builds a structured check. The walker knows each check's meaning; a rule that
# matches none is counted as skipped.
_STR = r"'([^']*)'"
_DUR = r"duration\(" + _STR + r"\)"
_F = r"(\w+)"


def _has_terms(text: str) -> list[str] | None:
    terms = re.findall(r"\(has\(self\.(\w+)\)\?1:0\)", text)
    rebuilt = "+".join(f"(has(self.{t})?1:0)" for t in terms) + "<=1"
    return terms if terms and rebuilt == text else None


def _strings(text: str) -> list[str]:
    return re.findall(_STR, text)


_CEL: list[tuple[str, Any]] = [
    (r"duration\(self\)>=" + _DUR, lambda m: ["dur", [[">=", m[1]]]]),
    (
        r"!\(duration\(self\)<" + _DUR + r"\|\|duration\(self\)>" + _DUR + r"\)",
        lambda m: ["dur", [[">=", m[1]], ["<=", m[2]]]],
    ),
    (
        r"!\(duration\(self\)==" + _DUR + r"\|\|duration\(self\)>" + _DUR + r"\)",
        lambda m: ["dur", [["!=", m[1]], ["<=", m[2]]]],
    ),
    (r"0<self&&self<=(\d+)", lambda m: ["range", 1, int(m[1])]),
    (r"self\.all\(key,0<int\(key\)&&int\(key\)<=(\d+)\)", lambda m: ["key_range", 1, int(m[1])]),
    (r"has\(self\." + _F + r"\)!=has\(self\." + _F + r"\)", lambda m: ["one", [m[1], m[2]]]),
    (r"has\(self\." + _F + r"\)\|\|has\(self\." + _F + r"\)", lambda m: ["any", [m[1], m[2]]]),
    (r"!\(has\(self\." + _F + r"\)&&has\(self\." + _F + r"\)\)", lambda m: ["most", [m[1], m[2]]]),
    (r"!self\.contains\(" + _STR + r"\)", lambda m: ["no_sub", m[1]]),
    (r"self!=" + _STR, lambda m: ["ne", m[1]]),
    (r"self in\[((?:'[^']*',?)*)\]".replace(" ", ""), lambda m: ["in", _strings(m[1])]),
    (r"self\.size\(\)==0", lambda m: ["empty"]),
    (r"self\.all\(key,!key\.contains\(" + _STR + r"\)\)", lambda m: ["key_no_sub", m[1]]),
    (r"self\.all\(key,key\.size\(\)!=0\)", lambda m: ["key_nonempty"]),
    (
        r"self\.all\(key,size\(key\)<(\d+)&&key\.matches\(" + _STR + r"\)\)",
        lambda m: ["key_match", int(m[1]) - 1, m[2]],
    ),
    (r"self\.all\((\w+),self\.exists_one\((\w+),\1\.(\w+)==\2\.\3\)\)", lambda m: ["unique", m[3]]),
    (
        r"self\.all\((\w+),!has\(\1\.(\w+)\)\|\|self\.exists_one\((\w+),"
        r"has\(\3\.\2\)&&\1\.\2==\3\.\2\)\)",
        lambda m: ["unique", m[2]],
    ),
    # A field that goes with one value of a discriminator (Gateway API filters, protocols).
    (
        r"!\(!has\(self\." + _F + r"\)&&self\." + _F + "==" + _STR + r"\)",
        lambda m: ["needs", m[2], m[3], m[1]],
    ),
    (
        r"self\." + _F + "==" + _STR + r"\?has\(self\." + _F + r"\):true",
        lambda m: ["needs", m[1], m[2], m[3]],
    ),
    (
        r"!\(has\(self\." + _F + r"\)&&self\." + _F + "!=" + _STR + r"\)",
        lambda m: ["only", m[1], m[2], m[3]],
    ),
    (
        r"has\(self\." + _F + r"\)\?self\." + _F + "==" + _STR + ":true",
        lambda m: ["only", m[1], m[2], m[3]],
    ),
    # Istio: a field forbidden while another (with its default) has one value.
    (
        r"\(\(has\(self\.(\w+)\)\?self\.\1:"
        + _STR
        + r"\)=="
        + _STR
        + r"\)\?!has\(self\."
        + _F
        + r"\):true",
        lambda m: ["forbids", m[1], m[2], m[3], m[4]],
    ),
    (
        r"\(has\(self\.(\w+)\)\?self\.\1:"
        + _STR
        + r"\)!="
        + _STR
        + r"\|\|!has\(self\."
        + _F
        + r"\)",
        lambda m: ["forbids", m[1], m[2], m[3], m[4]],
    ),
    (
        r"has\(self\.portLevelMtls\)\?\(\(\(has\(self\.selector\)&&"
        r"has\(self\.selector\.matchLabels\)\)\?self\.selector\.matchLabels:\{\}\)"
        r"\.size\(\)>0\):true",
        lambda m: ["needs_labels", "portLevelMtls"],
    ),
    # Gateway API listeners: a field that some protocols must not set (or must leave empty).
    (
        r"self\.all\((\w+),\1\.protocolin\[((?:'[^']*',?)*)\]\?!has\(\1\.(\w+)\):true\)",
        lambda m: ["each_forbids", "protocol", _strings(m[2]), m[3]],
    ),
    (
        r"self\.all\((\w+),\1\.protocolin\[((?:'[^']*',?)*)\]\?\(!has\(\1\.(\w+)\)"
        r"\|\|\1\.\3==''\):true\)",
        lambda m: ["each_forbids", "protocol", _strings(m[2]), m[3]],
    ),
    (
        r"self\.filter\(f,f\." + _F + "==" + _STR + r"\)\.size\(\)<=1",
        lambda m: ["once", m[1], m[2]],
    ),
    (
        r"\(size\(self\.group\)==0&&self\.kind==" + _STR + r"\)\?has\(self\." + _F + r"\):true",
        lambda m: ["core_kind_needs", m[1], m[2]],
    ),
    (r"self\." + _F + r"<=self\." + _F, lambda m: ["le", m[1], m[2]]),
    (r"!\('\*'inself&&self\.size\(\)>1\)", lambda m: ["star_alone"]),
]
_CEL_COMPILED = [(re.compile(p), build) for p, build in _CEL]


def classify_rule(rule: str) -> list[Any] | None:
    """The structured check for one CEL rule, or None when its shape is not one we evaluate."""
    text = re.sub(r"\s+", "", rule).replace('"', "'")
    terms = _has_terms(text)
    if terms:
        return ["most", terms]
    for pattern, build in _CEL_COMPILED:
        match = pattern.fullmatch(text)
        if match:
            return list(build(match))
    return None


# --- oneOf / anyOf as Istio writes them -----------------------------------------------------------


def _required_branch(branch: Any) -> str | None:
    if isinstance(branch, dict) and set(branch) == {"required"} and len(branch["required"]) == 1:
        return str(branch["required"][0])
    return None


def one_of_group(branches: list[Any]) -> list[Any] | None:
    """`oneOf` of single `required` branches (plus an optional `not: anyOf` of the same) means
    "at most one of these fields" (with the `not` branch) or "exactly one" (without)."""
    names, none_allowed = [], False
    for branch in branches:
        name = _required_branch(branch)
        if name is not None:
            names.append(name)
            continue
        if isinstance(branch, dict) and set(branch) == {"not"}:
            inner = branch["not"]
            if (
                isinstance(inner, dict)
                and set(inner) == {"anyOf"}
                and all(_required_branch(b) for b in inner["anyOf"])
            ):
                none_allowed = True
                continue
        return None
    return ["most" if none_allowed else "one", names] if names else None


class Builder:
    """Interns compact nodes bottom-up: an identical subtree gets the same id."""

    def __init__(self) -> None:
        self.nodes: list[dict[str, Any]] = []
        self._ids: dict[str, int] = {}
        self.skipped: dict[str, int] = {}

    def skip(self, what: str) -> None:
        self.skipped[what] = self.skipped.get(what, 0) + 1

    def intern(self, node: dict[str, Any]) -> int:
        key = json.dumps(node, sort_keys=True, separators=(",", ":"))
        found = self._ids.get(key)
        if found is None:
            found = self._ids[key] = len(self.nodes)
            self.nodes.append(node)
        return found

    def build(self, schema: dict[str, Any]) -> int:
        node: dict[str, Any] = {}
        checks: list[Any] = []
        for key, value in schema.items():
            if key in _IGNORED_KEYS:
                continue
            if key in _SCALAR_KEYS:
                node[_SCALAR_KEYS[key]] = value
            elif key == "properties":
                node["p"] = {name: self.build(sub) for name, sub in sorted(value.items())}
            elif key == "items":
                node["i"] = self.build(value)
            elif key == "additionalProperties":
                if isinstance(value, dict):
                    node["a"] = self.build(value)
                elif value is True:
                    node["x"] = 1
            elif key == "required":
                node["r"] = sorted(value)
            elif key == "x-kubernetes-preserve-unknown-fields":
                if value:
                    node["x"] = 1
            elif key == "x-kubernetes-int-or-string":
                if value:
                    node["s"] = 1
            elif key == "x-kubernetes-validations":
                for entry in value:
                    check = classify_rule(entry["rule"])
                    if check is None:
                        self.skip("CEL: " + entry.get("message", entry["rule"])[:120])
                    else:
                        checks.append([*check, entry.get("message", "")])
            elif key == "oneOf":
                group = one_of_group(value)
                if group is None:
                    self.skip("oneOf of another shape")
                else:
                    checks.append([*group, ""])
            elif key == "allOf":
                for branch in value:
                    group = (
                        one_of_group(branch.get("oneOf", [])) if set(branch) == {"oneOf"} else None
                    )
                    if group is None:
                        self.skip("allOf of another shape")
                    else:
                        checks.append([*group, ""])
            elif key == "anyOf":
                types = [b.get("type") for b in value if isinstance(b, dict)]
                if not (
                    schema.get("x-kubernetes-int-or-string") and types == ["integer", "string"]
                ):
                    self.skip("anyOf of another shape")
            else:
                self.skip(f"keyword {key}")
        if checks:
            node["c"] = checks
        return self.intern(node)


def load_crds(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        return [
            d
            for d in yaml.load_all(handle, Loader=yaml.CSafeLoader)
            if isinstance(d, dict) and d.get("kind") == "CustomResourceDefinition"
        ]


def generate(fixtures: Path) -> dict[str, Any]:
    sources_meta = {
        entry["file"]: entry
        for entry in json.loads((fixtures / "SOURCES.json").read_text())["files"]
    }
    builder = Builder()
    sets: dict[str, Any] = {}
    sources = []
    for set_name, info in SETS.items():
        path = fixtures / info["file"]
        data = path.read_bytes()
        meta = sources_meta.get(info["file"], {})
        sources.append(
            {
                "set": set_name,
                "project": info["project"],
                "version": info["version"],
                **({"channel": info["channel"]} if "channel" in info else {}),
                "repo": meta.get("repo"),
                "commit": meta.get("commit"),
                "file": info["file"],
                "sha256": hashlib.sha256(data).hexdigest(),
                "license": meta.get("license", "Apache-2.0"),
            }
        )
        groups: dict[str, Any] = {}
        for crd in load_crds(path):
            spec = crd["spec"]
            kinds = groups.setdefault(spec["group"], {})
            versions: dict[str, int | None] = {}
            for version in spec["versions"]:
                schema = (version.get("schema") or {}).get("openAPIV3Schema") or {}
                versions[version["name"]] = builder.build(schema) if version["served"] else None
            kinds[spec["names"]["kind"]] = {
                "scope": spec["scope"],
                "versions": dict(sorted(versions.items())),
            }
        sets[set_name] = {g: dict(sorted(k.items())) for g, k in sorted(groups.items())}
    return {
        "format": FORMAT,
        "generator": "scripts/generate_schemas.py",
        "license": "Apache-2.0; see NOTICE (Istio: Copyright Istio Authors; Gateway API: "
        "Copyright The Kubernetes Authors)",
        "sources": sources,
        "skipped": dict(sorted(builder.skipped.items())),
        "sets": sets,
        "nodes": builder.nodes,
    }


def render(data: dict[str, Any]) -> str:
    """One node per line: compact, yet a change to the CRDs shows as a readable diff."""
    head = {k: v for k, v in data.items() if k != "nodes"}
    lines = [json.dumps(head, indent=1, sort_keys=False)[:-2] + ","]
    lines.append(' "nodes": [')
    nodes = [json.dumps(n, separators=(",", ":"), sort_keys=True) for n in data["nodes"]]
    lines.append(",\n".join(nodes))
    lines.append("]}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fixtures", type=Path, default=DEFAULT_FIXTURES)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--check", action="store_true", help="fail when the output is stale")
    args = parser.parse_args(argv)
    text = render(generate(args.fixtures))
    if args.check:
        current = args.out.read_text(encoding="utf-8") if args.out.exists() else ""
        if current != text:
            print(f"{args.out} is stale: run python scripts/generate_schemas.py", file=sys.stderr)
            return 1
        return 0
    args.out.write_text(text, encoding="utf-8")
    print(f"wrote {args.out} ({len(text):,} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
