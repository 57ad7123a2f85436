"""Walk a resource against a CRD schema the way the Kubernetes API server treats it.

What the API server does with a custom resource, and so what this walker reports
(apiextensions-apiserver, structural schemas, apiextensions.k8s.io/v1):

- **Pruning.** A field that the schema does not declare is dropped silently (or refused with
  `kubectl apply`'s strict field validation), unless the node says
  `x-kubernetes-preserve-unknown-fields: true` (EnvoyFilter patches, WasmPlugin config): reported
  as an unknown field, with the closest declared name.
- **Nulls.** A null value for a field whose schema is not `nullable` is pruned before validation
  (as if absent), so it is not reported; a null list item is a type error.
- **Types** (`x-kubernetes-int-or-string` allows both), **enums**, **required** fields (a field
  with a `default` is filled in first), numeric bounds, string lengths, `pattern`, item and
  property counts, and `x-kubernetes-list-type` `set`/`map` uniqueness.
- **oneOf** as Istio writes its protobuf one-ofs (`oneOf` of `required` branches: at most or
  exactly one of the fields).
- **CEL** `x-kubernetes-validations`: the generator turns the rules of known shapes into small
  checks (durations, port ranges, mutually exclusive fields, a field tied to a discriminator
  value, uniqueness in a list, ...), evaluated here with the same defaults applied; rules of
  other shapes are not evaluated (the data file counts them). No CEL library: the two on the
  package index cost 170-450 ms to import, and neither carries Kubernetes' CEL extensions.

Mapping keys that are not strings are turned into strings as Kubernetes' YAML reader does (an
unquoted port `8080:` in `portLevelMtls` is the key "8080"; an unquoted `on:` is "true"). The
walk is bounded: it stops counting after MAX_COUNTED issues, and keeps the first `limit`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from rules.core.document import KeyPath
from rules.schema import durations
from rules.schema.store import Node, Store

MAX_COUNTED = 100_000
"""A bound on the walk's work beyond the loader's own (200,000 nodes a document)."""

_TYPE_WORDS = {
    "object": "a mapping",
    "array": "a list",
    "string": "a string",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
}
_EMPTY: dict[str, int] = {}
_SAFE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


@dataclass(slots=True)
class Issue:
    """One thing the API server would reject or prune, at a key path of the resource."""

    path: KeyPath
    code: str
    message: str
    known: tuple[str, ...] = ()
    """For an unknown field: the names the schema declares there (to look for newer ones)."""


def dotted(path: KeyPath) -> str:
    """`spec.http[0].timeout`, `metadata.labels["app.kubernetes.io/name"]`."""
    out = ""
    for step in path:
        if isinstance(step, int):
            out += f"[{step}]"
        elif _SAFE_KEY.match(step):
            out += f".{step}" if out else step
        else:
            out += f'["{step}"]'
    return out or "(top level)"


def describe_value(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"the boolean {'true' if value else 'false'}"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return f"a string (`{_short(value)}`)"
    if isinstance(value, int):
        return f"the whole number {value}"
    if isinstance(value, float):
        return f"the number {value:g}"
    return type(value).__name__


def key_text(key: Any) -> str:
    """A mapping key as Kubernetes' YAML reader turns it into a JSON key."""
    if isinstance(key, str):
        return key
    if isinstance(key, bool):
        return "true" if key else "false"
    if key is None:
        return "null"
    if isinstance(key, float) and key.is_integer():
        return str(int(key))
    return str(key)


def suggest(word: str, known: Sequence[str]) -> str | None:
    """The closest known name: same name in another case first, then the nearest spelling."""
    lowered = word.lower().replace("_", "").replace("-", "")
    for name in known:
        if name.lower() == lowered:
            return name
    import difflib  # only when a name is unknown

    close = difflib.get_close_matches(word, list(known), n=1, cutoff=0.6)
    if close:
        return close[0]
    return None


def _short(value: str, size: int = 60) -> str:
    value = value.replace("\n", " ").replace("`", "'")
    return value if len(value) <= size else value[: size - 1] + "…"


def _is_type(value: Any, expected: str) -> bool:
    cls = value.__class__
    if expected == "object":
        return cls is dict
    if expected == "array":
        return cls is list
    if expected == "string":
        return cls is str
    if expected == "integer":
        # YAML `2.0` reaches the API server as 2 (YAML to JSON keeps whole floats whole).
        return cls is int or (cls is float and value.is_integer())
    if expected == "number":
        return cls is int or cls is float
    if expected == "boolean":
        return cls is bool
    return True


@lru_cache(maxsize=512)
def _pattern(pattern: str) -> re.Pattern[str] | None:
    """Go's RE2 patterns of these CRDs are valid Python patterns; one that is not is skipped."""
    try:
        return re.compile(pattern)
    except re.error:
        return None


class Walker:
    """Validates values against the schema nodes of one store, collecting `Issue`s."""

    def __init__(self, store: Store, limit: int = 20) -> None:
        self.nodes = store.nodes
        self.types = store.fast.types
        self.leaf = store.fast.leaf
        self.enums = store.fast.enums
        self.post = store.fast.post
        self.required = store.fast.required
        self.limit = limit
        self.issues: list[Issue] = []
        self.count = 0

    def add(self, path: KeyPath, code: str, message: str, known: tuple[str, ...] = ()) -> None:
        self.count += 1
        if len(self.issues) < self.limit:
            self.issues.append(Issue(path, code, message, known))

    # --- values --------------------------------------------------------------------------------

    def walk(self, value: Any, node_id: int, path: KeyPath) -> None:
        if self.count >= MAX_COUNTED:
            return
        node = self.nodes[node_id]
        if value is None:
            if not node.get("n"):
                expected = (
                    "an integer or a string"
                    if node.get("s")
                    else _TYPE_WORDS.get(node.get("t", ""), "a value")
                )
                self.add(path, "type", f"`{dotted(path)}` is null; it must be {expected}")
            return
        cls = value.__class__
        types = self.types[node_id]
        if (
            types is not None
            and cls not in types
            and not (cls is float and types == (int,) and value.is_integer())
        ):
            self._wrong_type(value, node, path)
            return
        if cls is dict:
            # The hot loop, inline: most fields are plain scalars checked without a call.
            props: dict[str, int] = node.get("p") or _EMPTY
            extra: int | None = node.get("a")
            leaf, all_types, enums = self.leaf, self.types, self.enums
            for key, sub in value.items():
                if key.__class__ is str:
                    name = key
                    child = props.get(key)
                else:
                    name = key_text(key)
                    child = props.get(name)
                if child is None:
                    if extra is None:
                        if not node.get("x"):
                            self._unknown(key, name, props, path)
                        continue
                    child = extra
                if sub is None:
                    continue  # a null is pruned before validation (unless nullable: then valid)
                if leaf[child] and sub.__class__ in all_types[child]:  # type: ignore[operator]
                    allowed = enums[child]
                    if allowed is None or sub in allowed:
                        continue
                self.walk(sub, child, (*path, name))
            required = self.required[node_id]
            if required:
                for name in required:
                    if value.get(name) is None:
                        self.add(path, "required", f"`{dotted(path)}` needs the field `{name}`")
            if "mp" in node or "xp" in node:
                self._size(value, node, path)
        elif cls is list:
            self._array(value, node, path)
        elif cls is str:
            self._string(value, node, path)
        elif cls is int or cls is float:
            self._number(value, node, path)
        if self.post[node_id]:
            enum = node.get("e")
            if enum is not None and value not in enum:
                self._enum(value, enum, path)
            checks = node.get("c")
            if checks is not None:
                self._checks(value, node, checks, path)

    def _wrong_type(self, value: Any, node: Node, path: KeyPath) -> None:
        if node.get("s"):
            expected = "a whole number or a string"
        else:
            expected = _TYPE_WORDS[node["t"]]
        self.add(path, "type", f"`{dotted(path)}` must be {expected}, not {describe_value(value)}")

    def _size(self, value: dict[Any, Any], node: Node, path: KeyPath) -> None:
        size = len(value)
        if "mp" in node and size < node["mp"]:
            self.add(path, "size", f"`{dotted(path)}` needs at least {node['mp']} entries")
        if "xp" in node and size > node["xp"]:
            self.add(path, "size", f"`{dotted(path)}` has {size} entries; at most {node['xp']}")

    def _unknown(self, key: Any, name: str, props: dict[str, int] | None, path: KeyPath) -> None:
        field_path = (*path, name)
        known = tuple(props or ())
        note = ""
        if key.__class__ is not str:
            note = f" (YAML reads the unquoted key as {describe_value(key)})"
        close = suggest(name, known) if known else None
        hint = f" (did you mean `{close}`?)" if close else ""
        where = dotted(path)
        self.add(
            field_path,
            "unknown",
            f"unknown field `{name}` in `{where}`{note}{hint}: the API server drops it "
            "(`kubectl apply` refuses it)",
            known,
        )

    def _array(self, value: list[Any], node: Node, path: KeyPath) -> None:
        size = len(value)
        if "mi" in node and size < node["mi"]:
            self.add(path, "size", f"`{dotted(path)}` needs at least {node['mi']} items")
        if "xi" in node and size > node["xi"]:
            self.add(path, "size", f"`{dotted(path)}` has {size:,} items; at most {node['xi']}")
        items = node.get("i")
        if items is not None:
            types, simple, allowed = self.types[items], self.leaf[items], self.enums[items]
            for index, item in enumerate(value):
                if (
                    simple
                    and item.__class__ in types  # type: ignore[operator]
                    and (allowed is None or item in allowed)
                ):
                    continue
                if self.count >= MAX_COUNTED:
                    return
                self.walk(item, items, (*path, index))
        list_type = node.get("lt")
        if list_type == "set":
            self._unique(value, path, lambda item: item, "value")
        elif list_type == "map" and node.get("lk"):
            keys = node["lk"]
            defaults = self._defaults(items, keys)
            self._unique(
                value,
                path,
                lambda item: tuple(
                    _hashable(item.get(k, defaults.get(k))) if isinstance(item, dict) else None
                    for k in keys
                ),
                "/".join(keys),
            )

    def _defaults(self, items: int | None, keys: Sequence[str]) -> dict[str, Any]:
        props = self.nodes[items].get("p", {}) if items is not None else {}
        return {k: self.nodes[props[k]].get("d") for k in keys if k in props}

    def _unique(self, value: list[Any], path: KeyPath, key: Any, what: str) -> None:
        seen: set[Any] = set()
        for index, item in enumerate(value):
            marker = key(item)
            if marker is None or (marker.__class__ is tuple and all(m is None for m in marker)):
                continue  # an item without the key: unnamed items are not compared
            try:
                if marker in seen:
                    self.add(
                        (*path, index),
                        "duplicate",
                        f"`{dotted((*path, index))}` repeats the {what} of an earlier item",
                    )
                seen.add(marker)
            except TypeError:
                continue

    def _string(self, value: str, node: Node, path: KeyPath) -> None:
        if "ml" in node and len(value) < node["ml"]:
            if node["ml"] == 1:
                self.add(path, "length", f"`{dotted(path)}` must not be empty")
            else:
                self.add(path, "length", f"`{dotted(path)}` needs at least {node['ml']} characters")
        if "xl" in node and len(value) > node["xl"]:
            self.add(
                path,
                "length",
                f"`{dotted(path)}` has {len(value):,} characters; at most {node['xl']}",
            )
        pattern = node.get("pt")
        if pattern is not None:
            compiled = _pattern(pattern)
            if compiled is not None and compiled.search(value) is None:
                self.add(
                    path,
                    "pattern",
                    f"`{dotted(path)}` is `{_short(value)}`, which does not match `{pattern}`",
                )

    def _number(self, value: float, node: Node, path: KeyPath) -> None:
        low, high = node.get("lo"), node.get("hi")
        if low is not None and (value < low or (node.get("xlo") and value == low)):
            bound = "above" if node.get("xlo") else "at least"
            self.add(path, "range", f"`{dotted(path)}` is {value:g}; it must be {bound} {low:g}")
        if high is not None and (value > high or (node.get("xhi") and value == high)):
            bound = "below" if node.get("xhi") else "at most"
            self.add(path, "range", f"`{dotted(path)}` is {value:g}; it must be {bound} {high:g}")

    def _enum(self, value: Any, enum: list[Any], path: KeyPath) -> None:
        names = [str(e) for e in enum]
        close = suggest(str(value), names) if isinstance(value, str) else None
        hint = f" (did you mean `{close}`?)" if close else ""
        shown = ", ".join(names) if len(names) <= 12 else ", ".join(names[:12]) + ", …"
        self.add(
            path,
            "enum",
            f"`{dotted(path)}` is `{_short(str(value))}`, which is not one of {shown}{hint}",
        )

    # --- CEL rules and one-ofs -----------------------------------------------------------------

    def _present(self, value: dict[Any, Any], node: Node, name: str) -> bool:
        if value.get(name) is not None:
            return True
        props = node.get("p")
        return bool(props and name in props and "d" in self.nodes[props[name]])

    def _field(self, value: dict[Any, Any], node: Node, name: str) -> Any:
        found = value.get(name)
        if found is None:
            props = node.get("p")
            if props and name in props:
                return self.nodes[props[name]].get("d")
        return found

    def _checks(self, value: Any, node: Node, checks: list[list[Any]], path: KeyPath) -> None:
        where = _Where(path)
        for check in checks:
            kind, message = check[0], check[-1]
            if value.__class__ is dict:
                self._object_check(value, node, kind, check, message, path, where)
            elif value.__class__ is str:
                self._string_check(value, kind, check, message, path, where)
            elif value.__class__ is int:
                if kind == "range" and not check[1] <= value <= check[2]:
                    self.add(path, "range", f"`{where}` is {value}: {message}")
            elif value.__class__ is list:
                self._list_check(value, kind, check, message, path, where)

    def _object_check(
        self,
        value: dict[Any, Any],
        node: Node,
        kind: str,
        check: list[Any],
        message: str,
        path: KeyPath,
        where: _Where,
    ) -> None:
        if kind in ("most", "one", "any"):
            names = check[1]
            present = [n for n in names if self._present(value, node, n)]
            if len(present) > 1 and kind != "any":
                listed = " and ".join(f"`{n}`" for n in present)
                reason = message or f"only one of {', '.join(names)} may be set"
                self.add((*path, present[-1]), "exclusive", f"`{where}` sets {listed}: {reason}")
            elif not present and kind != "most":
                listed = " or ".join(f"`{n}`" for n in names)
                reason = f": {message}" if message else ""
                self.add(path, "required", f"`{where}` needs {listed}{reason}")
        elif kind == "needs":
            _, field, wanted, needed = check[:4]
            if self._field(value, node, field) == wanted and not self._present(value, node, needed):
                self.add(path, "cel", f"`{where}`: {message}")
        elif kind == "only":
            _, field, other, wanted = check[:4]
            if self._present(value, node, field) and self._field(value, node, other) != wanted:
                self.add((*path, field), "cel", f"`{where}`: {message}")
        elif kind == "forbids":
            _, field, default, wanted, forbidden = check[:5]
            actual = self._field(value, node, field)
            if (default if actual is None else actual) == wanted and self._present(
                value, node, forbidden
            ):
                self.add((*path, forbidden), "cel", f"`{where}`: {message}")
        elif kind == "needs_labels":
            field = check[1]
            selector = value.get("selector")
            labels = selector.get("matchLabels") if isinstance(selector, dict) else None
            if value.get(field) is not None and not (isinstance(labels, dict) and labels):
                self.add((*path, field), "cel", f"`{where}`: {message}")
        elif kind == "core_kind_needs":
            _, core_kind, needed = check[:3]
            group = self._field(value, node, "group")
            if (
                (group is None or group == "")
                and self._field(value, node, "kind") == core_kind
                and not self._present(value, node, needed)
            ):
                self.add(path, "cel", f"`{where}`: {message}")
        elif kind == "le":
            low, high = self._field(value, node, check[1]), self._field(value, node, check[2])
            if isinstance(low, int | float) and isinstance(high, int | float) and low > high:
                self.add((*path, check[1]), "cel", f"`{where}`: {message}")
        elif kind == "empty":
            if value:
                self.add(path, "cel", f"`{where}`: {message}")
        elif kind in ("key_no_sub", "key_nonempty", "key_range", "key_match"):
            for key in value:
                name = key_text(key)
                if not _key_ok(kind, check, name):
                    self.add((*path, name), "cel", f"`{where}` has the key `{name}`: {message}")

    def _string_check(
        self, value: str, kind: str, check: list[Any], message: str, path: KeyPath, where: _Where
    ) -> None:
        if kind == "dur":
            nanos = durations.parse(value)
            if nanos is None:
                self.add(
                    path,
                    "duration",
                    f"`{where}` is `{_short(value)}`, not a duration: {message} "
                    "(write a number and a unit, such as `5s`, `1m30s` or `250ms`)",
                )
                return
            for op, bound in check[1]:
                limit = durations.parse(bound)
                if limit is None:
                    continue
                if (
                    (op == ">=" and nanos < limit)
                    or (op == "<=" and nanos > limit)
                    or (op == "!=" and nanos == limit)
                ):
                    self.add(path, "duration", f"`{where}` is `{_short(value)}`: {message}")
                    return
        elif (
            (kind == "no_sub" and check[1] in value)
            or (kind == "ne" and value == check[1])
            or (kind == "in" and value not in check[1])
        ):
            self.add(path, "cel", f"`{where}` is `{_short(value)}`: {message}")
        elif kind == "empty" and value:
            self.add(path, "cel", f"`{where}`: {message}")

    def _list_check(
        self,
        value: list[Any],
        kind: str,
        check: list[Any],
        message: str,
        path: KeyPath,
        where: _Where,
    ) -> None:
        if kind == "empty":
            if value:
                self.add(path, "cel", f"`{where}`: {message}")
        elif kind == "unique":
            field = check[1]
            self._unique(
                value,
                path,
                lambda item: _hashable(item.get(field)) if isinstance(item, dict) else None,
                f"`{field}`",
            )
        elif kind == "once":
            _, field, wanted = check[:3]
            matching = [
                i
                for i, item in enumerate(value)
                if isinstance(item, dict) and item.get(field) == wanted
            ]
            if len(matching) > 1:
                self.add((*path, matching[1]), "cel", f"`{where}`: {message}")
        elif kind == "each_forbids":
            _, field, values, forbidden = check[:4]
            for index, item in enumerate(value):
                if (
                    isinstance(item, dict)
                    and item.get(field) in values
                    and item.get(forbidden) not in (None, "")
                ):
                    self.add((*path, index, forbidden), "cel", f"`{where}[{index}]`: {message}")
        elif kind == "star_alone" and "*" in value and len(value) > 1:
            self.add(path, "cel", f"`{where}`: {message}")


class _Where:
    """The dotted path, computed only when a message needs it (most checks pass)."""

    __slots__ = ("_path", "_text")

    def __init__(self, path: KeyPath) -> None:
        self._path = path
        self._text: str | None = None

    def __format__(self, spec: str) -> str:
        if self._text is None:
            self._text = dotted(self._path)
        return self._text


def _key_ok(kind: str, check: list[Any], name: str) -> bool:
    if kind == "key_no_sub":
        return check[1] not in name
    if kind == "key_nonempty":
        return name != ""
    if kind == "key_range":
        return name.isdigit() and check[1] <= int(name) <= check[2]
    if kind == "key_match":
        compiled = _pattern(check[2])
        return len(name) <= check[1] and (compiled is None or compiled.search(name) is not None)
    return True


def _hashable(value: Any) -> Any:
    if isinstance(value, dict | list):
        return repr(value)
    return value
