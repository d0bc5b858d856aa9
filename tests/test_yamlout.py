"""edgewise's YAML writer against PyYAML, byte for byte.

``yamlout`` walks generated documents itself (PyYAML's pure-Python representer is most
of plan's cost) and must write exactly what ``yaml.dump_all`` with the same options
writes. These tests compare the two on everything the examples generate (every backend)
and on adversarial strings and random trees, and check the walker really is the path
taken for generated output (a silent fallback would hide a slow path, not a bug).
"""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from edgewise import yamlout
from yamlout_corpus import generated_documents, reference


def test_every_generated_document_matches_pyyaml_and_takes_the_fast_path() -> None:
    docs = generated_documents()
    assert len(docs) > 400  # every example under every backend: a corpus of some size
    for where, doc in docs:
        fast = yamlout._document(doc)
        assert fast is not None, f"{where}: fell back to PyYAML"
        assert "---\n" + fast == reference(doc), where


TRICKY = [
    "", " ", "true", "True", "yes", "No", "on", "OFF", "y", "n", "null", "Null", "~", "1", "-1", "+1", "0o17",
    "0x1F", "1_000", "1.30", "1e3", "1.0e+3", ".5", ".inf", "-.inf", ".NaN", "1:30", "190:20:30", "2026-11-21",
    "2026-11-21T10:00:00Z", "=", "<<", "x: y", "x:y", "x:", ":x", "- a", "-a", "-", "--", "---", "...", "? a", "?a",
    "#c", "a #b", "a#b", " lead", "trail ", "a  b", "a\tb", "'", '"', "''", "a'b", 'a"b', "*a", "&a", "!a", "%a",
    "@a", "`a", "|", ">", "{a}", "[a]", "a,b", "a]", "arn:aws:iam::123456789012:role/x", "us-west-2-lax-1a",
    "edgewise.dev/role", "http://x/y?z=1", "café", "日本", "\u00a0", "\x07", "\ufeff", "a\u2028b", "a\rb",
    "line1\nline2", "line1\nline2\n", "\nlead", " lead\nx", "a\n\nb\n", "a\n\n", "\n", "a \nb", "a\n b",
    "#!/bin/bash\nset -e\n", "x" * 3000, "y " * 1500,
]


@pytest.mark.parametrize("s", TRICKY, ids=range(len(TRICKY)))
def test_tricky_strings_match_pyyaml_as_keys_values_and_items(s: str) -> None:
    for doc in ({"k": s}, {"k": [s, {"k2": s}]}, {"a": {"b": [[s]]}}, [s], {s or "e": 1}):
        assert yamlout.dump_all([doc]) == reference(doc), repr(doc)


def test_common_strings_and_block_literals_do_not_fall_back() -> None:
    for s in ("true", "1.30", "x: y", "a #b", " lead", "line1\nline2", "#!/bin/bash\nset -e\n", "café"):
        assert yamlout._document({"k": s, "l": [s]}) is not None, repr(s)


def test_documents_are_joined_with_explicit_starts_and_single_dump_has_none() -> None:
    docs = [{"a": 1}, {"b": [1, 2]}, {"c": {}}]
    assert yamlout.dump_all(docs) == "---\na: 1\n---\nb:\n- 1\n- 2\n---\nc: {}\n"
    assert yamlout.dump({"a": {"b": None, "c": True, "d": []}}) == "a:\n  b: null\n  c: true\n  d: []\n"


def test_values_the_walker_does_not_handle_go_through_pyyaml() -> None:
    for doc in ({"f": 1.5}, {1: "int key"}, {}, [], {"k": "x" * 5000}, {"k": "a\n\n"}):
        assert yamlout._document(doc) is None, repr(doc)
        assert yamlout.dump_all([doc]) == reference(doc)


#: characters that decide how PyYAML writes a one-line string: every indicator, space,
#: letters and digits the resolver reads as numbers, booleans or dates
INDICATORS = "-?:,[]{}#&*!|>'\"%@` .~=<+_/\\$()01eEyYnNtT\t\x85é"
one_liners = st.text(alphabet=INDICATORS, min_size=1, max_size=8)


@settings(max_examples=3000, deadline=None)
@given(one_liners)
def test_the_plain_test_is_pyyamls_own(s: str) -> None:
    """_plain_in_block says what PyYAML's emitter says (allow_block_plain) for every
    one-line string of printable ASCII, and nothing else is called plain."""
    analysis = yaml.emitter.Emitter(None).analyze_scalar(s)  # type: ignore[arg-type]
    printable = all("\x20" <= c <= "\x7e" for c in s)
    assert yamlout._plain_in_block(s) == (printable and analysis.allow_block_plain), repr(s)


@settings(max_examples=1500, deadline=None)
@given(one_liners)
def test_one_line_strings_are_written_as_pyyaml_writes_them(s: str) -> None:
    yamlout._inline_cache.pop(s, None)
    yamlout._values.pop(s, None)
    for doc in ({"k": s}, [s], {s: 1}):
        assert yamlout.dump_all([doc]) == reference(doc), repr(doc)


multi_liners = st.text(alphabet=" \n\tab:#-|>'\"\x85é", min_size=1, max_size=12).filter(lambda t: "\n" in t)


@settings(max_examples=3000, deadline=None)
@given(multi_liners)
def test_the_block_test_is_pyyamls_own(s: str) -> None:
    """_block_allowed says what PyYAML's emitter says (allow_block) for every multi-line
    string of printable ASCII, the only ones _literal writes itself; and those it writes
    are written as PyYAML writes them."""
    if yamlout._LITERAL_OK.match(s):
        assert yamlout._block_allowed(s) == yaml.emitter.Emitter(None).analyze_scalar(s).allow_block, repr(s)
    for doc in ({"k": s}, [s], {"k": [s]}):
        assert yamlout.dump_all([doc]) == reference(doc), repr(doc)


scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
                    st.text(max_size=12), st.sampled_from(TRICKY[:90]))
keys = st.one_of(st.text(max_size=10), st.sampled_from(TRICKY[:80]))
trees = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                      st.dictionaries(keys, inner, max_size=4)), max_leaves=25)


@settings(max_examples=400, deadline=None)
@given(trees)
def test_random_trees_match_pyyaml(obj: Any) -> None:
    assert yamlout.dump_all([obj]) == reference(obj)
    assert yamlout.dump(obj) == yaml.dump(obj, Dumper=yamlout._Dumper, sort_keys=False, default_flow_style=False,
                                          allow_unicode=True, width=4096)
