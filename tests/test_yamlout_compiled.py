"""The compiled walker of the YAML writer (``_fastyaml.dump_docs``, rust/fastyaml/src/emit.rs)
against yamlout's Python walker and PyYAML, byte for byte.

The compiled walker lays documents out and leaves every decision about how a string is
written to yamlout's callbacks; it must give a document up (None: PyYAML writes it)
exactly where the Python walker does, and write the same text everywhere else. Compared
on every document the examples' plans write, on random trees of awkward strings, and
on the corners: types and values the walkers leave to PyYAML, fallback documents in the
middle of a stream, exceptions, deep nesting.
"""

from __future__ import annotations

import collections
import enum
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from edgewise import yamlout
from edgewise.plan.artifacts import Artifact
from edgewise.workflow import _render_with_lines
from yamlout_corpus import generated_documents, planned_documents, reference

pytestmark = pytest.mark.skipif(yamlout._dump_docs is None, reason="the compiled walker is not built")


def compiled(objs: list[Any], *, cache: dict[str, str] | None = None, explicit_start: bool = True) -> list[str | None]:
    """The compiled walker's texts; ``cache``: the strings it may look up (default:
    yamlout's own cache; an empty dict sends every string through the callbacks)."""
    assert yamlout._dump_docs is not None
    return yamlout._dump_docs(objs, yamlout._inline_cache if cache is None else cache, yamlout._inline,
                              yamlout._literal, yamlout._Fallback, explicit_start=explicit_start)


def python(obj: Any) -> str | None:
    """The Python walker's text for one document, with its start marker."""
    text = yamlout._document(obj)
    return None if text is None else "---\n" + text


def assert_alike(objs: list[Any]) -> None:
    """Both walkers write (or give up on) each document alike, with a warm and a cold
    cache, and what they write is PyYAML's text."""
    expected = [python(obj) for obj in objs]
    assert compiled(objs) == expected
    assert compiled(objs, cache={}) == expected
    for obj, text in zip(objs, expected, strict=True):
        if text is not None:
            assert text == reference(obj)
    assert yamlout.dump_all(objs) == "".join(reference(obj) for obj in objs)


def test_every_document_the_examples_plans_write_is_written_alike_in_one_stream() -> None:
    corpus = planned_documents() + generated_documents()
    assert len(planned_documents()) > 100 and len({where for where, _ in planned_documents()}) >= 3
    docs = [doc for _, doc in corpus]
    texts = compiled(docs, cache={})
    for (where, doc), text in zip(corpus, texts, strict=True):
        assert text == python(doc), where
        assert text is None or text == reference(doc), where
    # the generators' objects take the fast path (test_yamlout holds the Python walker to it)
    assert None not in texts[len(planned_documents()):]
    assert compiled(docs) == texts  # the same again from the warm cache
    assert yamlout.dump_all(docs) == "".join(reference(doc) for doc in docs)


def test_each_example_plan_renders_the_same_with_the_python_walker(monkeypatch: pytest.MonkeyPatch) -> None:
    docs = [doc for _, doc in planned_documents()]
    fast = yamlout.documents(docs)
    single = [yamlout.dump(doc) for doc in docs]
    monkeypatch.setattr(yamlout, "_dump_docs", None)
    assert yamlout.documents(docs) == fast
    assert [yamlout.dump(doc) for doc in docs] == single
    assert single == [yaml.dump(doc, **yamlout._OPTIONS) for doc in docs]


# --- random trees -----------------------------------------------------------------------

#: pieces awkward strings are made of: indicators, resolver bait, quotes, breaks, unicode
PIECES = [
    "", "a", "Z", "0", " ", "  ", ": ", ":", " #", "#", "'", '"', "\\", "-", "- ", "?", "? ", "~", "*", "&", "!", "|",
    ">", "%", "@", "`", ",", "[", "]", "{", "}", "=", "<<", "true", "False", "yes", "off", "null", "NULL", "1e3",
    "0x1F", "0o17", "1_000", ".5", ".inf", "2001-12-14", "12:30:45", "+1", "\n", "\n\n", "\t", "\r", "\r\n", "\x85",
    "\u2028", "\x07", "\ufeff", "\u00a0", "é", "日本", "😀", "/", ".", "---", "...",
]
awkward = st.one_of(st.lists(st.sampled_from(PIECES), max_size=6).map("".join), st.text(max_size=12))
scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.integers(min_value=2**62, max_value=2**70),
                    st.integers(min_value=-(2**70), max_value=-(2**62)), st.floats(allow_nan=False), awkward,
                    st.just({}), st.just([]))
keys = st.one_of(awkward, awkward, awkward, st.integers(), st.none(), st.booleans())
trees = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                      st.dictionaries(keys, inner, max_size=4)), max_leaves=30)


@settings(max_examples=500, deadline=None)
@given(trees)
def test_random_trees_are_written_alike(obj: Any) -> None:
    assert_alike([obj])
    expected = yamlout._document(obj)
    assert compiled([obj], explicit_start=False) == [expected]
    assert yamlout.dump(obj) == yaml.dump(obj, **yamlout._OPTIONS)


@settings(max_examples=150, deadline=None)
@given(st.lists(trees, max_size=6))
def test_random_streams_are_written_document_by_document(objs: list[Any]) -> None:
    assert_alike(objs)
    assert compiled(objs) == [compiled([obj])[0] for obj in objs]


# --- corners ----------------------------------------------------------------------------

class Str(str):
    pass


class Int(int):
    pass


class Colour(enum.IntEnum):
    RED = 1


class Dict(dict[str, Any]):
    pass


class List(list[Any]):
    pass


LEFT_TO_PYYAML = [
    {"f": 1.5}, {"k": [0.0]}, {1: "int key"}, {None: 1}, {True: 1}, {("t",): 1}, {"k": Str("s")}, {Str("k"): 1},
    {"k": Int(1)}, {"k": Colour.RED}, {"k": Dict(a=1)}, {"k": List([1])}, {"k": (1, 2)}, {"k": b"bytes"},
    {"k": collections.OrderedDict(a=1)}, {"k" * 128: 1}, {"k": {"x" * 200: 1}}, {"k": ""}, {"": 1},
    {"k": "x" * 2001}, {"k": "a\rb"}, {"k": "a\u2028b"}, {"k": "a\n\n"}, {"k": "\n"}, {"k": "é\nb"}, {"a\nb": 1},
    {"k": [[], {}, [[1.5]]]}, {}, [], "scalar", 1, None, Dict(a=1), List([1]), collections.OrderedDict(a=1),
]
WRITTEN = [
    {"k": 2**63 - 1}, {"k": -(2**63)}, {"k": 2**63}, {"k": [-(2**63) - 1]}, {"k": 10**300},
    {"k": [0, -1, True, False, None]}, {"k" * 127: 1},
    {"k": {}, "l": [], "m": [[]], "n": [{}], "o": [[[]], [{}]], "p": {"q": {}}},
    [[1, [2, [3]]], [], [{}], {"a": [[{"b": [[]]}]]}], {"k": "x" * 2000}, {"k": "line\nline\n"},
    {"k": ["a\n b", {"l": "  lead\ntrail"}]}, {"k": " lead"}, {"k": "trail "}, {"k": "a: b"}, {"k": "a #b"},
    {"k": "'q'"}, {"k": "日本"}, {"k": "true"}, {"k": "null"}, {"k": "1e3"}, {"k": "0x1F"}, {"k": "2001-12-14"},
    {"k": "~"}, {"k": "-"}, {"k": "?"}, {"k": "a\tb"}, {"true": "null", "1": "2", "~": "-"},
]


@pytest.mark.parametrize("obj", LEFT_TO_PYYAML, ids=range(len(LEFT_TO_PYYAML)))
def test_what_the_python_walker_leaves_to_pyyaml_the_compiled_one_leaves_too(obj: Any) -> None:
    assert python(obj) is None
    assert compiled([obj]) == [None]
    try:
        expected = reference(obj)
    except yaml.YAMLError as e:  # types PyYAML's safe dumper does not write either
        with pytest.raises(type(e)):
            yamlout.dump_all([obj])
    else:
        assert yamlout.dump_all([obj]) == expected


@pytest.mark.parametrize("obj", WRITTEN, ids=range(len(WRITTEN)))
def test_what_the_python_walker_writes_the_compiled_one_writes_alike(obj: Any) -> None:
    assert python(obj) is not None
    assert_alike([obj])


def test_a_fallback_document_in_a_stream_leaves_its_neighbours_as_they_are() -> None:
    stream = [{"a": 1}, {"f": 1.5}, {"b": ["x", "y: z"]}, {}, [], "s", {"c": "l1\nl2\n"}, {1: 2}, {"d": None}]
    texts = compiled(stream)
    assert [text is None for text in texts] == [False, True, False, True, True, True, False, True, False]
    for obj, text in zip(stream, texts, strict=True):
        if text is not None:
            assert text == compiled([obj])[0] == reference(obj)
    assert yamlout.documents(stream) == [reference(obj) for obj in stream]
    assert yamlout.dump_all(iter(stream)) == "".join(reference(obj) for obj in stream)


def test_render_with_lines_gives_the_line_of_each_document_first_key() -> None:
    docs = ({"a": 1, "b": [1, 2]}, {"f": 1.5, "g": {"h": "x"}}, {"c": "l1\nl2\n"}, {"d": {}})
    text, lines = _render_with_lines(Artifact("apps/x/y.yaml", docs=docs))
    assert text == "".join(reference(doc) for doc in docs)
    rows = text.split("\n")
    assert [rows[line - 1].split(":")[0] for line in lines] == ["a", "f", "c", "d"]
    assert all(rows[line - 2] == "---" for line in lines)


def test_strings_are_written_as_the_callbacks_say_and_looked_up_in_the_cache_first() -> None:
    assert yamlout._dump_docs is not None
    asked: list[Any] = []

    def inline(s: str) -> str:
        asked.append(s)
        return f"<{s}>"

    def literal(s: str, indent: int) -> str:
        asked.append((s, indent))
        return f"|{indent}"

    doc = {"k": "v", "cached": ["v", "x\ny"], "m": {"n": "x\ny"}}
    texts = yamlout._dump_docs([doc], {"cached": "C", "v": "V"}, inline, literal, yamlout._Fallback,
                               explicit_start=False)
    assert texts == ["<k>: V\nC:\n- V\n- |2\n<m>:\n  <n>: |4\n"]
    assert asked == ["k", ("x\ny", 2), "m", "n", ("x\ny", 4)]


def test_a_fallback_from_a_callback_gives_the_document_up_and_other_errors_propagate() -> None:
    assert yamlout._dump_docs is not None

    def give_up(s: str, indent: int = 0) -> str:
        raise yamlout._Fallback

    def broken(s: str) -> str:
        raise ValueError(s)

    dump_docs = yamlout._dump_docs
    assert dump_docs([{"a": 1}, {"b": "x\ny"}, [1]], {}, yamlout._inline, give_up, yamlout._Fallback,
                     explicit_start=True) == ["---\na: 1\n", None, "---\n- 1\n"]
    texts = dump_docs([[1], {"a": 1}], {}, give_up, give_up, yamlout._Fallback, explicit_start=True)
    assert texts == ["---\n- 1\n", None]
    with pytest.raises(ValueError, match=r"^a$"):
        dump_docs([{"a": 1}], {}, broken, give_up, yamlout._Fallback, explicit_start=True)
    with pytest.raises(TypeError):
        dump_docs([{"a": 1}], {}, lambda s: 1, give_up, yamlout._Fallback, explicit_start=True)


def nested(depth: int) -> dict[str, Any]:
    doc: dict[str, Any] = {"leaf": [1]}
    for i in range(depth):
        doc = {"k": doc} if i % 2 else {"l": [doc, 2]}
    return doc


def test_nesting_is_written_alike_and_beyond_the_recursion_limit_raises_as_in_python() -> None:
    assert_alike([nested(150)])
    for walk in (lambda doc: compiled([doc]), python):
        with pytest.raises(RecursionError):
            walk(nested(20_000))


@pytest.mark.parametrize(("doc", "error"), [({"k": "\ud800"}, UnicodeEncodeError), ({"\udfff": 1}, UnicodeEncodeError),
                                            (["a\ud800"], UnicodeEncodeError), ({"k": [10**5000]}, ValueError)])
def test_what_python_cannot_write_raises_as_it_does_in_the_python_walker(doc: Any, error: type[Exception]) -> None:
    # a lone surrogate is not UTF-8 (PyYAML's error); an int beyond Python's digit limit for str()
    with pytest.raises(error):
        python(doc)
    with pytest.raises(error):
        compiled([doc], cache={})
