"""The loader's own construction of plain values must equal PyYAML's, on any document."""

from __future__ import annotations

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from rules.core.loader import _StrictLoader


class PyYAMLConstruction(_StrictLoader):
    """Same resolvers and strictness, PyYAML's construction."""

    construct_document = yaml.constructor.BaseConstructor.construct_document


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(max_size=12),
    st.sampled_from(
        [
            "yes",
            "Off",
            "~",
            "012",
            "0x1F",
            "1_000",
            "2001-12-14",
            "1e3",
            ".inf",
            "-0",
            "+5",
            "0",
            "null",
            "",
            "<<",
            "=",
            "0o17",
            "1:20",
        ]
    ),
)
keys = st.one_of(st.text(max_size=8), st.integers(), st.sampled_from(["on", "1", "null"]))
values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(keys, children, max_size=4)
    ),
    max_leaves=25,
)


@settings(max_examples=300, deadline=None)
@given(values, st.sampled_from([None, True, False]))
def test_construction_matches_pyyaml(value, flow_style):
    text = yaml.safe_dump({"doc": value, "again": value}, default_flow_style=flow_style)
    fast = yaml.load(text, Loader=_StrictLoader)
    reference = yaml.load(text, Loader=PyYAMLConstruction)
    assert fast == reference


@settings(max_examples=100, deadline=None)
@given(st.lists(st.text(alphabet="ab:-[]{}&*!<, \n", max_size=30), min_size=1, max_size=1))
def test_broken_or_odd_text_fails_the_same_way(texts):
    """On arbitrary text both either give the same value or both raise a YAML error."""
    [text] = texts
    outcomes = []
    for loader in (_StrictLoader, PyYAMLConstruction):
        try:
            # repr, not ==: `&a [*a]` builds a list that contains itself
            outcomes.append(("ok", repr(yaml.load(text, Loader=loader))))
        except yaml.YAMLError as exc:
            outcomes.append(("error", type(exc).__name__))
    assert outcomes[0] == outcomes[1]
