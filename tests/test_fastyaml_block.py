"""The compiled reader's line-by-line fast path (rust/fastyaml/src/block.rs) held to the
general reader behind it (yaml-rust2), node by node: the same kinds, texts, counts,
lines and columns wherever the fast path takes a text, and the text left to the general
reader wherever it is unsure. (``tests/test_fastyaml.py`` holds the whole compiled
reader, both paths, to PyYAML.)

The property is one-sided on purpose: the fast path may give up on anything, but what
it returns must be exactly what the general reader returns, and it must never take a
text the general reader would not, but for one thing: literal block scalars (``|``,
``|-``, ``|+``), which the general reader leaves to PyYAML (it marks a block scalar
where its text starts, PyYAML at its indicator). A text the fast path takes for one
is held to PyYAML's reading itself: data, types and positions
(``tests.test_fastyaml.agree``).
"""

from __future__ import annotations

import random
import re
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edgewise.spec import yamlsource
from edgewise.yamlread import MAX_DEPTH, PLAIN
from test_fastyaml import agree

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the benchmark's spec generator
from benchmarks.generate import write_spec  # noqa: E402

fastyaml: Any = yamlsource._fastyaml
pytestmark = pytest.mark.skipif(fastyaml is None or PLAIN is None, reason="the compiled reader is not built")
RESOLVE_FIRST = PLAIN[1] if PLAIN is not None else ""


def nodes(text: str, reader: str, depth: int = MAX_DEPTH) -> Any:
    return fastyaml._nodes(text, RESOLVE_FIRST, depth, reader)


#: a literal block scalar's indicator, as a value or an item (the fast path takes no other)
LITERAL = re.compile(r"(: |^ *- )\|[-+]?( |$)", re.M)


def same_or_left(text: str, depth: int = MAX_DEPTH) -> bool:
    """Assert the fast path gives the general reader's nodes or leaves the text to it
    (with a literal block scalar: PyYAML's reading); True when it took the text."""
    if fastyaml.slow_text(text):
        return False  # never reaches either reader
    fast = nodes(text, "block", depth)
    if fast is None:
        return False
    general = nodes(text, "general", depth)
    if general is None and LITERAL.search(text) and depth == MAX_DEPTH:
        assert agree(text), f"the fast path took a literal block scalar, but not the whole reader:\n{text!r}"
        return True
    assert general is not None, f"the fast path took a text the general reader leaves to PyYAML:\n{text!r}"
    assert fast == general, text
    return True


def yaml_texts() -> list[str]:
    """Every YAML file of the repository that is UTF-8 text (a few test inputs are not,
    on purpose)."""
    out = []
    for p in sorted(p for d in ("tests", "examples", "src", "docs") for p in (ROOT / d).rglob("*")
                    if p.suffix in (".yaml", ".yml") and p.is_file()):
        try:
            out.append(p.read_text(encoding="utf-8"))
        except UnicodeDecodeError:
            continue
    return out


@pytest.fixture(scope="module")
def plans(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """The plans of every example and of the 50 x 20 benchmark spec."""
    from click.testing import CliRunner

    from edgewise.cli import cli

    tmp = tmp_path_factory.mktemp("plans")
    specs = [*sorted((ROOT / "examples").iterdir()), write_spec(tmp / "bench.yaml", 50, 20)]
    out = []
    for spec in specs:
        target = tmp / f"plan-{spec.stem}"
        result = CliRunner().invoke(cli, ["plan", str(spec), "-o", str(target), "--quiet", "--simulate", "never"])
        assert result.exit_code == 0, result.output
        out.append(target)
    return out


def test_every_yaml_file_of_the_repository() -> None:
    texts = yaml_texts()
    taken = sum(same_or_left(text) for text in texts)
    # hand-written specs, manifests and test inputs: the fast path takes most of them
    # (205 of 258 when written); the rest have block scalars, multi-line flow
    # collections, anchors or text PyYAML reads (bad inputs on purpose)
    assert taken > len(texts) * 2 // 3, (taken, len(texts))


def test_every_file_of_every_plan_and_the_fast_path_takes_them(plans: list[Path]) -> None:
    """Each file plan writes is read alike, and the fast path takes every one but those
    the reader leaves to PyYAML whole (a backslash in a pattern, ...): the
    CloudFormation templates with their nodes' user data (literal block scalars) too."""
    files = [p for plan in plans for p in sorted(plan.rglob("*.yaml"))]
    assert len(files) > 100
    literal = 0
    for p in files:
        text = p.read_text(encoding="utf-8")
        took = same_or_left(text)
        if not fastyaml.slow_text(text) and text.isascii():
            assert took, f"{p}: block YAML left to the general reader"
            literal += bool(LITERAL.search(text))
    assert literal >= 3  # the examples' Wavelength node templates


@pytest.mark.parametrize(("text", "expected"), [
    # a block sequence at its key's column: marked where its first item starts
    ("a:\n- x\n- 'y'\n", [(False, [("map", "1", 1, 1), ("str", "a", 1, 1), ("seq", "2", 2, 3),
                                   ("str", "x", 2, 3), ("str", "y", 2 + 1, 3)])]),
    # an indented one at its dash; a mapping in an item at its first key
    ("k:\n  - m: 1\n    n: ''\n", [(False, [("map", "1", 1, 1), ("str", "k", 1, 1), ("seq", "1", 2, 3),
                                             ("map", "2", 2, 5), ("str", "m", 2, 5), ("plain", "1", 2, 8),
                                             ("plain", "n", 3, 5), ("str", "", 3, 8)])]),
    # documents, comments, empty flow collections, quotes with '' inside, a comment after a value
    ("# c\n---\na: []\n---\nb: {}\nc: 'it''s' # note\n",
     [(False, [("map", "1", 3, 1), ("str", "a", 3, 1), ("seq", "0", 3, 4)]),
      (False, [("map", "2", 5, 1), ("str", "b", 5, 1), ("map", "0", 5, 4), ("str", "c", 6, 1),
               ("str", "it's", 6, 4)])]),
    # flow collections closed on their line, nested, with quoted and plain scalars
    ("a: {b: [1, 'c d'], \"e\": {}}\n",
     [(False, [("map", "1", 1, 1), ("str", "a", 1, 1), ("map", "2", 1, 4), ("str", "b", 1, 5),
               ("seq", "2", 1, 8), ("plain", "1", 1, 9), ("str", "c d", 1, 12), ("str", "e", 1, 20),
               ("map", "0", 1, 25)])]),
])
def test_what_the_fast_path_makes(text: str, expected: Any) -> None:
    assert nodes(text, "block") == expected
    assert nodes(text, "general") == expected


@pytest.mark.parametrize("text", [
    "a:\nb: 1\n",                      # an empty value (null)
    "a: b\n  c\n",                     # a plain scalar over two lines
    "a: 'b\n  c'\n",                   # a quoted one
    "a: >\n  text\n",                  # a folded block scalar
    "a: |2\n  text\n",                 # an indentation indicator
    "a: |\n\n  text\n",                # an empty line before the first line of text
    "a: |\n  text\n  \n",              # a line of spaces in it
    "a: |\nb: 1\n",                    # an empty block scalar
    "a: |x\n  text\n",                 # text after the indicator
    "a: |\n   x\n  b: 1\n",            # a dedent into no enclosing column after it
    "a: [1,\n  2]\n",                  # a flow collection over lines
    "a: [1, , 2]\n",                   # an empty entry
    "a: [1, 2,]\n",                    # a trailing comma
    "a: [b: 1]\n",                     # a pair in a flow sequence
    "a: {b}\n",                        # a key without a value
    "a: {b:1}\n",                      # a colon with no space after it
    "a: [http://x]\n",                 # a colon inside a flow scalar (YAML 1.1 and 1.2 differ)
    "a: [b # c]\n",                    # a comment inside a flow collection
    "a: &x 1\nb: *x\n",                # anchors and aliases
    "a: !t 1\n",                       # a tag
    "? a\n: b\n",                      # an explicit key
    "- a\n- b\n",                      # a sequence at the root
    "a:\n- - x\n",                     # a sequence in a sequence
    "a:\n-\n  - x\n",
    "a :\n  b: 1\n",                   # a space before the colon
    "---\n---\na: 1\n",                # an empty document
    "a: 1\n---\n",
    "--- a: 1\n",                      # content on the document-start line
    "a: é\n",                          # not ASCII (positions count characters)
    "a: b: c\n",                       # a mapping where none may be
    "a: b:\n",
    "a:\n  b: 1\n c: 2\n",             # a dedent to no enclosing column
    "a: 1\n- b\n",                     # an item after a key with a value
    "a:\n- b\n  c: 1\n",               # a key under a scalar item
    "plain\n",                         # a scalar at the root
])
def test_what_the_fast_path_leaves_to_the_general_reader(text: str) -> None:
    assert nodes(text, "block") is None
    same_or_left(text)


def test_nesting_deeper_than_the_limit_is_left_alike() -> None:
    text = "a:\n  b:\n    c:\n      d: []\n"
    for depth in range(1, 6):
        fast, general = nodes(text, "block", depth), nodes(text, "general", depth)
        assert fast == general, depth  # both give up below 5 levels, both read it from there
    assert nodes(text, "block", 4) is None and nodes(text, "block", 5) is not None


WORDS = st.sampled_from(["a", "b c", "x.y/z", "Fn::Sub", "on", "yes", "No", "~", "null", "1", "-1", "0x1f",
                         "1_000", "1.5", ".inf", "2024-01-01", "http://h:80/p", "a#b", "a:b", "=", "<<",
                         "-", "?", ":", "a]", "[", "{", "}", "]", ",", "#", "&a", "*a", "!t", "|", ">", "%", "@",
                         "'q'", "'it''s'", "''", '"d"', '""', "'", '"', "[]", "{}", "[a]", "{a: b}", "a: b", ""])
SPACES = st.sampled_from(["", " ", "  "])
COMMENT = st.sampled_from(["", "", " # c", "#c", "  #"])
INDENT = st.sampled_from(["", "", " ", "  ", "    ", "      "])
KEY_VALUE = st.builds(lambda k, s, v, c: f"{k}:{s}{v}{c}", WORDS, SPACES, WORDS, COMMENT)
ITEM = st.builds(lambda s, body: f"-{s}{body}", SPACES, st.one_of(KEY_VALUE, WORDS))
LINE = st.builds(lambda i, body: i + body, INDENT,
                 st.one_of(KEY_VALUE, KEY_VALUE, ITEM, ITEM, st.sampled_from(["---", "--- # d", "# c", ""])))
BLOCKISH = st.builds(lambda lines, end: "\n".join(lines) + end, st.lists(LINE, min_size=1, max_size=12),
                     st.sampled_from(["", "\n", "\n\n"]))


@settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(BLOCKISH, st.sampled_from([MAX_DEPTH, 2, 3]))
def test_random_block_texts_are_read_alike_or_left(text: str, depth: int) -> None:
    same_or_left(text, depth)


SCALARS = ["a", "b c", "x.y/z", "Fn::Sub", "on", "yes", "~", "null", "1", "-1", "0x1f", "1.5", "2024-01-01",
           "http://h:80/p", "a#b", "a:b", "-x", "a]", "c,d", "'q'", "'it''s'", "''", '"d"', '""', "[]", "{}"]
KEYS = ["a", "b", "name", "x.y/z", "Fn::Sub", "'k'", '"q k"', "on", "k-2", "a b", "n", "apiVersion"]


def _tree(rng: random.Random, depth: int = 0) -> tuple[str, Any]:
    r = rng.random()
    if depth > 3 or r < 0.35:
        return ("scalar", rng.choice(SCALARS))
    if r < 0.7:
        return ("map", [(rng.choice(KEYS), _tree(rng, depth + 1)) for _ in range(rng.randint(1, 4))])
    return ("seq", [_tree(rng, depth + 1) for _ in range(rng.randint(1, 4))])


def _write(rng: random.Random, node: tuple[str, Any], indent: int, out: list[str], indentless: bool) -> None:
    """``node`` as block YAML in one of the styles people and tools write: indented or
    indentless sequences, mappings compact in an item or below its dash, comments."""
    def comment() -> str:
        return rng.choice(["", "", "", " # c", "  #x"])

    kind, value = node
    if kind == "map":
        for key, sub in value:
            if sub[0] == "scalar":
                out.append(" " * indent + f"{key}:{rng.choice([' ', '  '])}{sub[1]}{comment()}")
                continue
            out.append(" " * indent + f"{key}:{comment()}")
            if rng.random() < 0.2:
                out.append(rng.choice(["", "# between", "   # c"]))
            if sub[0] == "seq" and indentless and rng.random() < 0.6:
                _write(rng, sub, indent, out, indentless)
            else:
                _write(rng, sub, indent + rng.choice([2, 2, 4, 1, 3]), out, indentless)
    else:
        for item in value:
            gap = rng.choice([" ", " ", "  ", "   "])
            if item[0] == "scalar":
                out.append(" " * indent + f"-{gap}{item[1]}{comment()}")
            elif item[0] == "map" and rng.random() < 0.7:
                lines: list[str] = []
                _write(rng, item, 0, lines, indentless)
                out.append(" " * indent + "-" + gap + lines[0])
                pad = " " * (indent + 1 + len(gap))
                out.extend(pad + line if line.strip() and not line.startswith("#") else line for line in lines[1:])
            else:
                out.append(" " * indent + "-" + rng.choice(["", " # c"]))
                _write(rng, item, indent + rng.choice([2, 2, 4]), out, indentless)


@settings(max_examples=2000, deadline=None)
@given(st.integers(min_value=0, max_value=2**32), st.integers(min_value=0, max_value=3))
def test_random_trees_in_block_styles_are_read_alike_or_left(seed: int, edits: int) -> None:
    """Random documents written in the block styles of hand-written and generated
    manifests, sometimes edited afterwards (as in the test after this one)."""
    rng = random.Random(seed)
    docs = []
    for _ in range(rng.choice([1, 1, 2, 3])):
        lines: list[str] = []
        _write(rng, ("map", [(rng.choice(KEYS), _tree(rng, 1)) for _ in range(rng.randint(1, 4))]),
               rng.choice([0, 0, 0, 2]), lines, rng.random() < 0.5)
        docs.append("\n".join(lines))
    text = rng.choice(["", "---\n", "# top\n"]) + "\n---\n".join(docs) + rng.choice(["\n", "", "\n\n"])
    ops = ["del", "dup-line", "indent", "dedent", *" -:#'\"\n[]{}|>&*!?,~"]
    text = _edit(text, [(rng.randrange(10**6), rng.choice(ops)) for _ in range(edits)])
    same_or_left(text)
    same_or_left(text, 3)


FLOW_SCALARS = ["a", "b c", "1", "-1", "-", "yes", "~", "x.y/z", "'q'", "'it''s'", '"d"', "''", "a#b", "a #b",
                "http://x", "a:b", "- a", "?x", "&a", "!t", "|", "a]", "[", "}", ",", "", "<<", "'a,b'", '"c]d"']


def _flow(rng: random.Random, depth: int = 0) -> str:
    """A flow collection (or a scalar inside one), spaced and nested at random."""
    r = rng.random()
    if depth > 3 or r < 0.4:
        return rng.choice(FLOW_SCALARS)
    gap = rng.choice(["", "", " "])
    if r < 0.7:
        items = [_flow(rng, depth + 1) for _ in range(rng.randint(0, 4))]
        return "[" + gap + rng.choice([", ", ",", " , "]).join(items) + gap + "]"
    pairs = [rng.choice(FLOW_SCALARS) + rng.choice([": ", ":", " : "]) + _flow(rng, depth + 1)
             for _ in range(rng.randint(0, 4))]
    return "{" + gap + rng.choice([", ", ","]).join(pairs) + gap + "}"


@settings(max_examples=2000, deadline=None)
@given(st.integers(min_value=0, max_value=2**32), st.integers(min_value=0, max_value=2))
def test_random_flow_collections_are_read_alike_or_left(seed: int, edits: int) -> None:
    """Flow collections as values, items and nested, with the scalars YAML 1.1 and 1.2
    read differently inside them (colons, dashes, comments), sometimes edited."""
    rng = random.Random(seed)
    lines = []
    for i in range(rng.randint(1, 4)):
        value = _flow(rng) + rng.choice(["", " # c"])
        lines.append(rng.choice([f"k{i}: {value}", f"k{i}:\n  - {value}\n  - {_flow(rng)}", f"k{i}:\n- {value}"]))
    text = "\n".join(lines) + "\n"
    text = _edit(text, [(rng.randrange(10**6), rng.choice(["del", *" -:#'\"\n[]{},"])) for _ in range(edits)])
    same_or_left(text)
    same_or_left(text, 2)


def _sample_texts() -> list[str]:
    return [t for t in yaml_texts() if len(t) < 4000 and not fastyaml.slow_text(t)][:60]


EDITS = st.lists(st.tuples(st.integers(min_value=0, max_value=10**6),
                           st.sampled_from(["del", "dup-line", "indent", "dedent",
                                            *" -:#'\"\n[]{}|>&*!?,~"])), min_size=1, max_size=3)


def _edit(text: str, edits: list[tuple[int, str]]) -> str:
    for at, op in edits:
        if not text:
            break
        i = at % len(text)
        start = text.rfind("\n", 0, i) + 1
        if op == "del":
            text = text[:i] + text[i + 1:]
        elif op == "dup-line":
            end = text.find("\n", i)
            end = len(text) if end < 0 else end + 1
            text = text[:end] + text[start:end] + text[end:]
        elif op == "indent":
            text = text[:start] + " " + text[start:]
        elif op == "dedent":
            if text[start:start + 1] == " ":
                text = text[:start] + text[start + 1:]
        else:
            text = text[:i] + op + text[i:]
    return text


@settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data(), EDITS)
def test_edited_manifests_are_read_alike_or_left(data: st.DataObject, edits: list[tuple[int, str]]) -> None:
    """Small edits of the repository's manifests (a character deleted or inserted, a line
    repeated, indented or dedented): wherever the fast path still takes the text, it
    reads it as the general reader does."""
    texts = _SAMPLES or _sample_texts()
    _SAMPLES[:] = texts
    text = data.draw(st.sampled_from(texts))
    same_or_left(_edit(text, edits))


_SAMPLES: list[str] = []
