"""Reading YAML and JSON as Kustomize would print it, or saying it would not (`Unsupported`)."""

from __future__ import annotations

import hashlib
import json
import math
import re
from typing import Any

import yaml

from render.native.resource import Unsupported
from rules.core.loader import load_documents

# Kustomize prints every resource through JSON after reading it as YAML 1.2 (kyaml's yaml.v3):
# `enabled: yes` comes out as the text "yes", `1e3` as 1000, `1.0` as 1, a date as a timestamp,
# an integer key as text. This project's loader reads YAML 1.1 (yes is true, 1e3 is text), as
# the YAML it is given. A plain scalar read differently by the two, an integral or infinite
# float, or a key that is not text therefore sends the root to the tool (checked in kubectl 1.32).
_DIVERGENT_SCALAR = re.compile(
    r"yes|Yes|YES|no|No|NO|on|On|ON|off|Off|OFF"  # booleans only in YAML 1.1
    r"|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?"  # 1.1 sexagesimal
    r"|[-+]?(?:\.[0-9_]+|[0-9][0-9_]*(?:\.[0-9_]*)?)[eE][-+]?[0-9]+"  # exponents
    r"|[-+]?0o[0-7]+"  # 1.2 octal
    r"|[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:[Tt ].*)?"  # timestamps
    r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)"
)
_CHECKED: dict[bytes, str | None] = {}
"""Digest of a text -> what Kustomize reads differently in it (None: nothing), for the texts many
roots read (bases): keyed by digest, so the memo never holds the texts themselves."""


def plain(value: Any) -> bool:
    """A scalar that reads back the same from `yaml.dump`: Kustomize keeps its text."""
    return isinstance(value, str | int | bool | float)


def json_changes(value: Any) -> bool:
    """Whether Kustomize's JSON round trip changes a value as read here: an integral or
    infinite float (1.0 prints as 1), an integer past 64 bits, a key that is not text."""
    if isinstance(value, dict):
        return any(not isinstance(k, str) or json_changes(v) for k, v in value.items())
    if isinstance(value, list):
        return any(json_changes(v) for v in value)
    if isinstance(value, float):
        return not math.isfinite(value) or value.is_integer()
    return isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 2**63


def read_json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        raise Unsupported("a JSON patch the tool should report on") from None


def load_one(text: str) -> Any:
    documents = load_all(text)
    if len(documents) != 1:
        raise Unsupported("a kustomization of several documents")
    return documents[0]


def load_all(text: str) -> list[Any]:
    if "<<" in text:
        raise Unsupported("a YAML merge key")
    try:
        documents = load_documents(text)
        problem = _read_differently(text)
    except (yaml.YAMLError, ValueError, TypeError, RecursionError):
        raise Unsupported("YAML the tool should report on") from None
    if problem is not None:
        raise Unsupported(problem)
    return documents


def _read_differently(text: str) -> str | None:
    """What in `text` Kustomize reads differently from this project, if anything: a plain
    scalar YAML 1.1 and 1.2 read differently, or an alias (Kustomize expands it into a copy,
    where the loader shares one object that a patch would change in both places)."""
    key = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()
    if key in _CHECKED:
        return _CHECKED[key]
    found = None
    for event in yaml.parse(text, Loader=yaml.CSafeLoader):
        if isinstance(event, yaml.AliasEvent):
            found = f"an alias (*{event.anchor})"
            break
        if (
            isinstance(event, yaml.ScalarEvent)
            and not event.style  # plain: libyaml says "", PyYAML None
            and _DIVERGENT_SCALAR.fullmatch(event.value)
        ):
            found = f"a plain {event.value!r}, which YAML 1.1 and 1.2 read differently"
            break
    if len(_CHECKED) > 4096:
        _CHECKED.clear()
    _CHECKED[key] = found
    return found
