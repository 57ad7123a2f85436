"""schema-invalid on hostile or broken input: one finding each, a capped count, never a crash."""

from __future__ import annotations

from rules.schema.problems import MAX_REPORTED
from tests.helpers import findings_of

RULE = "schema-invalid"
HEAD = (
    "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: r, namespace: a}\n"
)


def messages(text: str) -> list[tuple[int, int, str]]:
    return [(f.line, f.column, f.message) for f in findings_of(RULE, text)]


def test_spec_that_is_a_list():
    found = messages(HEAD + "spec:\n- hosts: [a]\n")
    assert found == [(4, 1, "VirtualService a/r: `spec` must be a mapping, not a list")]


def test_spec_that_is_a_string():
    found = messages(HEAD + "spec: hosts\n")
    assert [(line, column) for line, column, _ in found] == [(4, 1)]
    assert found[0][2].endswith("`spec` must be a mapping, not a string (`hosts`)")


def test_metadata_that_is_not_a_mapping():
    text = "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: [a]\nspec: {}\n"
    assert [m for _, _, m in messages(text)] == [
        "VirtualService in mesh.yaml: `metadata` must be a mapping"
    ]


def test_lists_where_maps_belong_at_any_depth():
    text = HEAD + "spec:\n  http:\n  - route:\n    - - destination: {host: a}\n"
    found = messages(text)
    assert found == [
        (7, 7, "VirtualService a/r: `spec.http[0].route[0]` must be a mapping, not a list")
    ]
    text = HEAD + "spec:\n  http:\n  - retries: [3]\n"
    assert [m for _, _, m in messages(text)] == [
        "VirtualService a/r: `spec.http[0].retries` must be a mapping, not a list"
    ]


def test_a_list_item_that_is_null_is_a_type_error():
    text = HEAD + "spec:\n  hosts:\n  - a.example.com\n  -\n"
    assert [m for _, _, m in messages(text)] == [
        "VirtualService a/r: `spec.hosts[1]` is null; it must be a string"
    ]


def test_ten_thousand_bad_items_are_capped_and_counted():
    items = "".join("  - 42\n" for _ in range(10_000))
    found = messages(HEAD + "spec:\n  hosts:\n" + items)
    assert len(found) == MAX_REPORTED + 1
    assert found[0][:2] == (6, 5)
    assert found[0][2].endswith("`spec.hosts[0]` must be a string, not the whole number 42")
    assert found[-1][2] == (
        "VirtualService a/r: 9,990 more schema problems not shown (only the first 10 are "
        "reported per resource)"
    )


def test_ten_thousand_good_items_are_fine():
    items = "".join(f"  - h{i}.example.com\n" for i in range(10_000))
    assert messages(HEAD + "spec:\n  hosts:\n" + items) == []


def test_keys_that_are_not_strings():
    text = HEAD + "spec:\n  hosts: [a.example.com]\n  2: x\n  on: y\n"
    found = messages(text)
    # `2:` is found where it is written; `on:` is read as true, which the text does not spell,
    # so that finding points at the mapping that holds it.
    assert [(line, column) for line, column, _ in found] == [(4, 1), (6, 3)]
    found = sorted(found, key=lambda f: f[2])
    assert (
        "unknown field `2` in `spec` (YAML reads the unquoted key as the whole number 2)"
        in (found[0][2])
    )
    assert (
        "unknown field `true` in `spec` (YAML reads the unquoted key as the boolean true)"
        in (found[1][2])
    )


def test_a_mapping_of_numbers_as_label_values():
    text = HEAD.replace("{name: r, namespace: a}", "{name: r, namespace: a, labels: {1: 2}}")
    found = messages(text + "spec: {}\n")
    assert [m.split(": ", 1)[1] for _, _, m in found] == [
        "`metadata.labels.1` must be a string; quote the value (YAML reads `2` as int)"
    ]


def test_deep_nesting_in_a_preserved_field_is_not_walked():
    deep = "x: " + "[" * 150 + "]" * 150
    text = (
        "apiVersion: networking.istio.io/v1alpha3\nkind: EnvoyFilter\n"
        "metadata: {name: f, namespace: a}\n"
        "spec:\n  configPatches:\n  - applyTo: CLUSTER\n    patch:\n      operation: ADD\n"
        f"      value: {{{deep}}}\n"
    )
    assert messages(text) == []


def test_wrong_kind_of_scalar_everywhere_still_terminates():
    text = HEAD + "spec: {hosts: 1, gateways: 2, http: 3, tcp: 4, tls: 5, exportTo: 6}\n"
    found = messages(text)
    assert len(found) == 6
    assert all("must be a list" in m for _, _, m in found)


def test_values_of_every_wrong_shape_never_crash_the_walk():
    """Every value of Istio's samples replaced, one at a time, by a value of another shape:
    the walk reports problems and never raises (a fixed seed: the same cases every run)."""
    import random

    import yaml

    from rules.core.config import Config
    from rules.core.context import Context
    from rules.core.model import Resource
    from rules.schema.problems import problems
    from tests.helpers import FIXTURES

    paths = sorted((FIXTURES / "istio-samples" / "istio").glob("*.yaml"))
    if not paths:
        import pytest

        pytest.skip("the Istio samples are not present")
    bodies = [
        d
        for p in paths
        for d in yaml.safe_load_all(p.read_text(encoding="utf-8"))
        if isinstance(d, dict) and str(d.get("apiVersion", "")).endswith(("istio.io/v1", "v1beta1"))
    ]
    shapes = [None, 0, -1, 2**70, 1.5, True, "", "x" * 300, [], [None], {}, {1: None}, [[[]]]]
    rng = random.Random(13)
    reported = 0
    for _ in range(400):
        body = yaml.safe_load(yaml.safe_dump(rng.choice(bodies)))
        node, key = body, None
        while isinstance(node, dict | list) and node and rng.random() < 0.8:
            key = rng.choice(list(node)) if isinstance(node, dict) else rng.randrange(len(node))
            parent, node = node, node[key]
        if key is None or (parent is body and key in ("apiVersion", "kind")):
            continue  # the loader only makes resources of string apiVersion and kind
        parent[key] = rng.choice(shapes)
        resource = Resource(body["apiVersion"], body["kind"], "x", "a", body, "mesh.yaml")
        reported += len(list(problems(Context([resource], Config()), experimental=False)))
    assert reported > 100  # most mutations are problems the walk reports
