"""The compiled YAML reader (rust/fastyaml) against PyYAML, document by document.

``check`` and the spec loader read YAML through :func:`edgewise.spec.yamlsource.fast_documents`
first: a PyO3 extension that builds plain data and the position of every key and item
straight from the event stream, and leaves to PyYAML anything it does not handle. Its
answer must equal what PyYAML (libyaml's composer and the safe loader's YAML 1.1 scalar
types, which is how Kubernetes reads YAML too) gives: the same documents, indexes, start
lines, data of the same types, and positions. These tests compare the two on every YAML
file of the repository (the check corpus, the rule fixtures, the examples, the catalog),
on every file ``plan`` writes for the examples and a benchmark spec, on random trees
dumped in every style, and on random text; and they check the fast path is really taken
for generated plans (a silent fallback would hide a slow path, not a bug).
"""

from __future__ import annotations

import concurrent.futures
import os
import re
import shutil
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edgewise.cli import cli
from edgewise.errors import InputError
from edgewise.spec import yamlsource
from edgewise.spec.yamlsource import DataBuilder, Document, build_documents, fast_documents
from edgewise.yamlread import load_plain

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the benchmark's spec generator
from benchmarks.generate import write_spec  # noqa: E402

needs_reader = pytest.mark.skipif(yamlsource._fastyaml is None, reason="the compiled reader is not built")


def canon(x: Any) -> Any:
    """``x`` with every scalar's type spelled out (``1 == True == 1.0`` in Python)."""
    if isinstance(x, dict):
        return ("map", [(canon(k), canon(v)) for k, v in x.items()])
    if isinstance(x, list):
        return ("seq", [canon(v) for v in x])
    return (type(x).__name__, repr(x))


def view(docs: list[Document]) -> list[Any]:
    return [(d.file, d.index, d.line, canon(d.data), d.positions) for d in docs]


@contextmanager
def pyyaml_only() -> Iterator[None]:
    saved = yamlsource._fastyaml
    yamlsource._fastyaml = None
    try:
        yield
    finally:
        yamlsource._fastyaml = saved


def reference(text: str, drop_empty: bool = True) -> list[Document] | InputError:
    with pyyaml_only():
        try:
            return build_documents(text, "f.yaml", DataBuilder("f.yaml"), drop_empty=drop_empty)
        except InputError as exc:
            return exc


def agree(text: str, drop_empty: bool = True) -> bool:
    """Assert the compiled reader agrees with PyYAML on ``text``; True if it took it."""
    fast = fast_documents(text, "f.yaml", drop_empty=drop_empty)
    if fast is None:
        return False
    ref = reference(text, drop_empty)
    assert not isinstance(ref, InputError), f"accepted what PyYAML rejects: {ref.report()}\n{text!r}"
    assert view(fast) == view(ref), text
    return True


def test_the_compiled_reader_is_built_where_cargo_is() -> None:
    if shutil.which("cargo") is None:
        pytest.skip("no Rust toolchain: the install leaves the reader out, PyYAML reads everything")
    assert yamlsource._fastyaml is not None, "pip install should have built edgewise._fastyaml"


@needs_reader
def test_every_yaml_file_of_the_repository() -> None:
    taken = 0
    files = sorted(p for d in ("tests", "examples", "src") for p in (ROOT / d).rglob("*")
                   if p.suffix in (".yaml", ".yml") and p.is_file())
    assert len(files) > 100
    for f in files:
        try:
            text = f.read_bytes().decode("utf-8-sig")
        except UnicodeDecodeError:
            continue
        taken += agree(text)
        agree(text, drop_empty=False)
    assert taken > 0.8 * len(files)


@needs_reader
def test_the_catalog_is_read_by_the_compiled_reader_as_pyyaml_reads_it() -> None:
    """The zone catalog is read at every start-up with :func:`load_plain`: it must take
    the file (a silent fall back to PyYAML costs ~7 ms) and give PyYAML's data."""
    text = (ROOT / "src" / "edgewise" / "catalog" / "zones.yaml").read_text(encoding="utf-8")
    plain = load_plain(text)
    assert plain is not None, "the compiled reader left the catalog to PyYAML"
    assert canon(plain) == canon(list(yaml.load_all(text, Loader=yaml.SafeLoader)))


@needs_reader
@pytest.mark.parametrize(("text", "taken"), [
    ("a: 1\n---\n- [x, 2.5, null, 2001-12-14, 0o17, yes]\n", True),
    ("", True),
    ("a: &x [1]\nb: *x\n", False),  # aliases are left to PyYAML
])
def test_load_plain_gives_every_document_as_pyyaml_does(text: str, taken: bool) -> None:
    plain = load_plain(text)
    assert (plain is not None) is taken
    if plain is not None:
        assert canon(plain) == canon(list(yaml.load_all(text, Loader=yaml.SafeLoader)))


def _plans(tmp: Path) -> list[Path]:
    runner = CliRunner()
    outs = []
    specs = [p for p in sorted((ROOT / "examples").iterdir()) if p.is_dir()]
    specs.append(write_spec(tmp / "bench" / "spec.yaml", 6, 5))
    for i, spec in enumerate(specs):
        out = tmp / f"plan{i}"
        result = runner.invoke(cli, ["plan", str(spec), "-o", str(out), "--simulate", "never", "--quiet"])
        assert result.exit_code in (0, 1), result.output
        assert any(out.rglob("*.yaml")), f"plan of {spec} wrote nothing"
        outs.append(out)
    return outs


@needs_reader
def test_every_file_plan_writes_and_the_fast_path_is_taken(tmp_path: Path) -> None:
    files = [p for out in _plans(tmp_path) for p in sorted(out.rglob("*.yaml"))]
    sites = [f for f in files if f.parent.parent.parent.name == "apps"]  # apps/<app>/<site>/*.yaml
    assert len(files) > 60 and len(sites) > 40
    slow = []
    for f in files:
        text = f.read_text()
        if not agree(text):
            slow.append(f)
    # only files the reader leaves to PyYAML on purpose (backslash escapes, block
    # scalars: CloudFormation user data, Helm values, the controller's script) fall back,
    # and they are few; the application manifests, the bulk of every plan, never do
    assert all(re.search(r"\\|: [|>][-+]?$", f.read_text(), re.M) for f in slow), slow
    assert not set(slow) & set(sites), slow
    assert len(slow) <= 0.1 * len(files)


SCALARS = st.one_of(
    st.sampled_from(["yes", "No", "on", "OFF", "y", "n", "true", "False", "~", "null", "NULL", "", "0o17", "017",
                     "0x1F", "0b101", "1_000", "+12", "-0", "1e3", "1.5e-3", ".inf", "-.Inf", ".nan", "12:30:45",
                     "190:20:30.15", "2024-01-01", "2024-01-01T10:00:00Z", "2001-12-14 21:59:43.10 -5", "<<",
                     "=", "- x", "a: b", "#c", "x #y", "'q'", '"d"', "@at", "`b", "%p", "!t", "&a", "*b", "?",
                     ":", "- ", "|", ">", "{a}", "[1]", "é", "日本", "a\nb", " lead", "trail ", "\u00a0"]),
    st.integers(-10**20, 10**20),
    st.floats(allow_nan=False),
    st.booleans(),
    st.none(),
    st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12),
)
KEYS = st.one_of(st.sampled_from(["a", "name", "on", "yes", "1", "n", "key with space", "k:", "-k", "é"]),
                 st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=8))
TREES = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                      st.dictionaries(KEYS, inner, max_size=4)), max_leaves=25)


@needs_reader
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(TREES, min_size=1, max_size=3), st.sampled_from([False, True, None]), st.booleans(),
       st.sampled_from([2, 4]), st.sampled_from([None, "'", '"', "|", ">"]), st.booleans())
def test_random_trees_in_every_style(docs: list[Any], flow: bool | None, unicode: bool, indent: int,
                                     style: str | None, start: bool) -> None:
    text = yaml.safe_dump_all(docs, default_flow_style=flow, allow_unicode=unicode, indent=indent,
                              default_style=style, explicit_start=start, sort_keys=False)
    agree(text)


#: a line of a literal block scalar's text (what follows its indentation): words, an
#: empty line, more indentation, YAML-looking text that is only text there
LITERAL_LINES = st.lists(st.sampled_from(["word", "two words", "", "  more indented", "# not a comment",
                                          "- not an item", "key: not a key", "---", "...", "'q'", "{a: 1}",
                                          "trailing ", "|", ">-", "x: |"]), min_size=1, max_size=6)


def _literal_texts() -> st.SearchStrategy[tuple[str, bool]]:
    """A literal block scalar as a mapping's value or a sequence's item, nested, with a
    chomping indicator or not, its text indented past its parent by 1 to 4 columns,
    empty lines at its end, followed by a key, an item, a comment, a document or the
    text's end; and whether the fast path is to take it (every line it holds is text or
    empty, the first one text at the indentation of the others)."""
    @st.composite
    def build(draw: st.DrawFn) -> tuple[str, bool]:
        lines = draw(LITERAL_LINES)
        chomp = draw(st.sampled_from(["", "-", "+"]))
        comment = draw(st.sampled_from(["", "  # note"]))
        parent = draw(st.sampled_from(["root", "nested", "item", "item-map", "compact-item"]))
        extra = draw(st.integers(1, 4))
        trailing = draw(st.integers(0, 2))
        after = draw(st.sampled_from(["key", "eof", "eof-no-newline", "comment", "document"]))
        head, col = {"root": ("a: ", 0), "nested": ("top:\n  a: ", 2), "item": ("top:\n  - ", 2),
                     "item-map": ("top:\n  - a: ", 4), "compact-item": ("top:\n- ", 0)}[parent]
        pad = " " * (col + extra)
        body = "".join(f"{pad}{line}\n" if line else "\n" for line in lines)
        text = f"{head}|{chomp}{comment}\n{body}" + "\n" * trailing
        nxt = {"key": "z: 1\n", "eof": "", "eof-no-newline": "", "comment": "# end\nz: 2\n",
               "document": "---\nz: 3\n"}[after]
        if after == "eof-no-newline" and not trailing:
            text = text[:-1]
        text += nxt
        # the first line sets the indentation: more indented, the lines after it end the text
        return text, bool(lines[0]) and not lines[0].startswith(" ")
    return build()


@needs_reader
@settings(max_examples=1500, deadline=None)
@given(_literal_texts())
def test_literal_block_scalars_are_read_as_pyyaml_reads_them(case: tuple[str, bool]) -> None:
    """The fast path's literal block scalars (``|``, ``|-``, ``|+``) against PyYAML: the
    text, its line breaks, the chomping, the position of the indicator, what comes after."""
    text, takes = case
    took = agree(text)
    if takes:
        assert took, f"a literal block scalar the fast path should read:\n{text!r}"
    assert agree(text, drop_empty=False) == took


@needs_reader
@pytest.mark.parametrize(("text", "value"), [
    ("a: |\n  one\n\n  two\n", "one\n\ntwo\n"),
    ("a: |-\n  one\n  two\n\n\nb: 1\n", "one\ntwo"),
    ("a: |+\n  one\n\n\nb: 1\n", "one\n\n\n"),
    ("a: |\n    deep\n  # text too\n", None),  # the second line is less indented: the text ends
    ("a: | # a comment\n  x\n", "x\n"),
    ("a: |\n  x", "x"),  # no line break at the text's end: none in the value
    ("l:\n- |\n  item\n- 2\n", None),
])
def test_literal_block_scalars_that_plans_and_manifests_hold(text: str, value: str | None) -> None:
    assert agree(text)
    data = yaml.safe_load(text)
    if value is not None:
        assert data["a"] == value


YAMLISH = st.lists(st.sampled_from([*"ab01 :-?,[]{}#&*!|>'\"%@`\n\t.~+=<yYnNoO",
                                    "\n  ", "\n- ", ": ", "---\n", "...\n", "é", "\\"]),
                   max_size=40).map("".join)


@needs_reader
@settings(max_examples=1500, deadline=None)
@given(YAMLISH)
def test_random_text_is_read_alike_or_left_to_pyyaml(text: str) -> None:
    agree(text)
    agree(text, drop_empty=False)


@needs_reader
@pytest.mark.parametrize("text", [
    "a: 1\na: 2\n",                              # duplicate key: PyYAML's path reports it
    "a: &x {b: 1}\nc: *x\n",                     # anchors and aliases
    "a: !!str 1\n",                              # tags
    "base: {a: 1}\nother:\n  <<: {b: 2}\n",      # merge key
    "? [a, b]\n: c\n",                           # a key that is not a scalar
    "1: one\n",                                  # a key that is not a string
    "a: 2024-13-45\n",                           # a timestamp that is not a date
    "a: \"tab\\tescape\"\n",                     # escapes
    "%YAML 1.1\n---\na: 1\n",                    # directives
    "a: [" * 120 + "]" * 120 + "\n",             # nesting past MAX_DEPTH
    "a: b\n c: d: e\n",                          # a syntax error
    "{|}\n",                                     # indicators no PyYAML plain scalar starts with
    "[>:a]\n",
    "[?a, b]\n",
    "{a: 1, b: x,\n- c: 2}\n",                    # a flow collection over lines: `- ` at a line start
    "{0---\no=\n- 00: 1}\n",
])
def test_what_the_reader_leaves_to_pyyaml(text: str) -> None:
    assert fast_documents(text, "f.yaml") is None
    # and the public path gives exactly PyYAML's answer (data, or the same error)
    ref = reference(text)
    try:
        got: list[Document] | InputError = build_documents(text, "f.yaml", DataBuilder("f.yaml"))
    except InputError as exc:
        got = exc
    if isinstance(ref, InputError):
        assert isinstance(got, InputError) and got.report() == ref.report()
    else:
        assert not isinstance(got, InputError) and view(got) == view(ref)


# -- what the compiled reader leaves to PyYAML before parsing ------------------------------

#: the text the compiled reader leaves to PyYAML whole, as it was first written (Python
#: regexes): backslash escapes and tabs (YAML 1.1 and 1.2 read some differently), carriage
#: returns, the YAML 1.1-only line breaks (NEL, U+2028, U+2029), a byte order mark,
#: characters YAML does not allow; directives and document ends at a line start
SLOW_TEXT = re.compile("[\\\\\t\r\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029\ufeff\ud800-\udfff\ufffe\uffff]")
SLOW_LINE = re.compile(r"^(%|\.\.\.)", re.M)
EDGY = st.lists(st.sampled_from([*"a: -\n.%\\\t\r\x00\x01\x08\x0b\x0c\x0e\x1f\x7f\x80\x85\x9f\xa0 é",
                                "\u2028", "\u2029", "\ufeff", "\ufffe", "\uffff", "\ufffd", "...", "\n...", "\n%",
                                "日", "\U0001f600"]), max_size=30).map("".join)


@needs_reader
@settings(max_examples=1500, deadline=None)
@given(EDGY)
def test_the_readers_own_text_test_is_the_documented_one(text: str) -> None:
    assert yamlsource._fastyaml.slow_text(text) == bool(SLOW_TEXT.search(text) or SLOW_LINE.search(text)), text


@needs_reader
def test_lone_surrogates_are_left_to_pyyaml() -> None:
    text = "a: \ud800\n"  # (no file decodes to this: only a caller's own str)
    assert fast_documents(text, "f.yaml") is None

    def outcome() -> str:
        try:
            return repr(view(build_documents(text, "f.yaml", DataBuilder("f.yaml"))))
        except Exception as exc:
            return type(exc).__name__

    with pyyaml_only():
        expected = outcome()
    assert outcome() == expected


# -- positions: the compiled reader's index against the dict ------------------------------

def dict_position(doc: Document, path: tuple[Any, ...]) -> tuple[int, int]:
    """Document.position as it reads a dict of positions (the PyYAML path's)."""
    key = path
    while key:
        if key in doc.positions:
            return doc.positions[key]
        key = key[:-1]
    return doc.positions.get((), (doc.line, 1))


def paths_of(data: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(data, dict):
        for k, v in data.items():
            yield from paths_of(v, (*prefix, k))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            yield from paths_of(v, (*prefix, i))


def variants(path: tuple[Any, ...]) -> Iterator[tuple[Any, ...]]:
    """``path`` and look-alikes a dict of positions matches or not: one step further, a
    missing key, ints as bools and floats, as strings, negative indexes."""
    yield path
    yield (*path, "spec")
    yield (*path, 0)
    yield (*path, "nope", 1)
    for j, step in enumerate(path):
        for other in ([bool(step)] if step in (0, 1) and type(step) is int else []) + (
                [float(step), str(step), -1 - step, step + 1000] if type(step) is int else [step + "x", 0]):
            yield (*path[:j], other, *path[j + 1:])


def assert_same_positions(docs: list[Document]) -> None:
    for d in docs:
        assert d._index is not None
        for path in paths_of(d.data):
            for p in variants(path):
                assert d.position(p) == dict_position(d, p), (p, d.file)


@needs_reader
def test_the_position_index_answers_as_the_dict_does() -> None:
    files = sorted(p for d in ("tests", "examples") for p in (ROOT / d).rglob("*")
                   if p.suffix in (".yaml", ".yml") and p.is_file())
    taken = 0
    for f in files:
        try:
            docs = fast_documents(f.read_bytes().decode("utf-8-sig"), str(f))
        except UnicodeDecodeError:
            continue
        if docs:
            taken += 1
            assert_same_positions(docs)
    assert taken > 100


@needs_reader
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(TREES, min_size=1, max_size=3), st.sampled_from([False, None]))
def test_the_position_index_answers_as_the_dict_does_on_random_trees(docs: list[Any], flow: bool | None) -> None:
    found = fast_documents(yaml.safe_dump_all(docs, default_flow_style=flow, sort_keys=False), "f.yaml")
    if found:
        assert_same_positions(found)


@needs_reader
def test_an_unhashable_step_fails_as_a_dict_look_up() -> None:
    docs = fast_documents("a:\n  b: [1, 2]\n", "f.yaml")
    assert docs
    with pytest.raises(TypeError):
        docs[0].position(("a", ["b"]))
    assert docs[0].position(("a", "b", 1)) == (2, 10)
    assert docs[0].position(("a", "b", True)) == (2, 10)  # True == 1, as in a dict


# -- files read ahead on other threads ------------------------------------------------------

def odd_files(tmp: Path) -> tuple[list[Path], set[Path]]:
    """Files a reader thread leaves to the caller (second), among others it reads."""
    d = tmp / "odd"
    d.mkdir()
    fast = {"plain.yaml": "a: 1\n---\n---\nb: [x, y]\n", "empty.yaml": "", "comments.yaml": "# nothing\n",
            "unicode.yaml": "name: é日本\nlist:\n- é\n- 日\nm: {a: é, b: [日, {c: é}]}\nz: [{d: 日}]\n",
            "literal.yaml": "a: |\n  text\n"}
    slow = {"crlf.yaml": "a: 1\r\nb: 2\r\n", "bom-twice.yaml": "\ufeff\ufeffa: 1\n",
            "cfn.yaml": "Resources:\n  X:\n    Type: AWS::EC2::VPC\n    Properties: {CidrBlock: !Ref C}\n",
            "bang.yaml": "a: hello!\n", "tabs.yaml": "a:\t1\n", "anchor.yaml": "a: &x 1\nb: *x\n",
            "dup.yaml": "a: 1\na: 2\n", "bad.yaml": "a: b\n c: d: e\n", "folded.yaml": "a: >\n  text\n"}
    for name, text in {**fast, **slow}.items():
        (d / name).write_text(text, newline="")
    (d / "bom.yaml").write_bytes(b"\xef\xbb\xbfa: 1\n")
    fast["bom.yaml"] = ""
    (d / "nul.yaml").write_bytes(b"a: 1\n\x00\n")
    (d / "latin1.yaml").write_bytes(b"a: \xe9\n")
    (d / "dir.yaml").mkdir()
    (d / "link.yaml").symlink_to(d / "plain.yaml")
    fast["link.yaml"] = ""
    slow_names = {*slow, "nul.yaml", "latin1.yaml", "dir.yaml", "missing.yaml"}
    files = sorted([*(d / n for n in fast), *(d / n for n in slow_names)])
    return files, {d / n for n in slow_names}


def as_read(f: Path) -> list[Any] | str:
    try:
        return view(yamlsource.read_documents(f))
    except InputError as exc:
        return exc.report()


@needs_reader
@pytest.mark.parametrize("threads", [1, 2, 3])
def test_files_read_ahead_are_read_as_read_documents_reads_them(tmp_path: Path, threads: int) -> None:
    plans = [p for out in _plans(tmp_path) for p in sorted(out.rglob("*.yaml"))]
    odd, slow = odd_files(tmp_path)
    files = plans + odd
    ahead = yamlsource.ReadAhead([str(f) for f in files], threads=threads)
    taken = 0
    for i, f in enumerate(files):
        got = ahead.get(i)
        if f in slow:
            assert got is None, f
            continue
        # taken exactly when the compiled reader takes the text (and it has no "!")
        text = f.read_bytes().decode("utf-8-sig")
        assert (got is not None) == ("!" not in text and fast_documents(text, str(f)) is not None), f
        if got is None:
            continue
        taken += 1
        st_ = f.stat()
        assert got.identity == (st_.st_dev, st_.st_ino) and got.size == st_.st_size, f
        assert view(got.documents) == as_read(f), f
    # the plans' files the compiled reader leaves to PyYAML are the few with block scalars
    # or escapes (test_every_file_plan_writes_and_the_fast_path_is_taken)
    assert taken >= 0.9 * len(plans) + len(odd) - len(slow)


@needs_reader
def test_reading_ahead_past_files_not_taken_and_stopping_early(tmp_path: Path) -> None:
    files = []
    for i in range(1300):  # more than the readers go ahead of the caller (512)
        f = tmp_path / f"f{i:04d}.yaml"
        f.write_text(f"kind: K\nmetadata:\n  name: n{i}\nspec: {{replicas: {i}}}\n")
        files.append(f)
    ahead = yamlsource.ReadAhead([str(f) for f in files], threads=2)
    for i in range(0, 1300, 7):  # files passed over are not read by the caller
        got = ahead.get(i)
        assert got is not None and got.documents[0].data["spec"]["replicas"] == i
        assert got.documents[0].position(("spec", "replicas")) == (4, 8)
    assert ahead._ahead is not None
    with pytest.raises(ValueError, match="taken already"):
        ahead._ahead.take(7, yamlsource._PLAIN[0])  # type: ignore[index]
    with pytest.raises(ValueError, match="no such file"):
        ahead._ahead.take(1300, yamlsource._PLAIN[0])  # type: ignore[index]
    # dropped after one file of many: the reader threads stop and are joined
    early = yamlsource.ReadAhead([str(f) for f in files], threads=2)
    assert early.get(0) is not None
    del early


def _wait_parsed(handle: Any, n: int) -> None:
    deadline = time.monotonic() + 30
    while handle.parsed() < n:
        assert time.monotonic() < deadline, f"{handle.parsed()} of {n} files parsed"
        time.sleep(0.01)


@needs_reader
def test_files_parsed_ahead_are_taken_by_the_reader_and_read_alike(tmp_path: Path) -> None:
    """Files parsed before the read (yamlread.warming, as check does while it imports)
    are read exactly as without it; the reader takes their parse rather than parsing
    them again (shown by a change the reader could only miss by taking it: same size,
    same modification time), a file that changed is read again, and once the warming
    ends nothing parsed by it is taken."""
    from edgewise import _fastyaml
    from edgewise.yamlread import MAX_DEPTH, PLAIN

    assert _fastyaml is not None and PLAIN is not None
    plans = [p for out in _plans(tmp_path) for p in sorted(out.rglob("*.yaml"))]
    names = [str(f) for f in plans]
    cold = yamlsource.ReadAhead(names)
    expected = [None if (got := cold.get(i)) is None else view(got.documents) for i in range(len(names))]
    handle = _fastyaml.warm(names, PLAIN[1], MAX_DEPTH, 2, 1 << 30)
    try:
        taken = [e is not None for e in expected].count(True)
        _wait_parsed(handle, taken)
        same = next(f for f, e in zip(plans, expected, strict=True)
                    if e is not None and b"kind: Namespace" in f.read_bytes())
        changed = next(f for f, e in zip(plans, expected, strict=True) if e is not None and f != same)
        for f, edit in ((same, lambda t: t.replace(b"kind: Namespace", b"kind: Nomespace")),
                        (changed, lambda t: t + b"# changed\n")):
            st_ = f.stat()
            f.write_bytes(edit(f.read_bytes()))
            os.utime(f, ns=(st_.st_atime_ns, st_.st_mtime_ns))
        warm_read = yamlsource.ReadAhead(names)
        for i, f in enumerate(plans):
            got = warm_read.get(i)
            if f == same:  # the parse made before the edit: taken, not parsed again
                assert got is not None and got.documents[0].data["kind"] == "Namespace"
            elif f == changed:  # another size: read again
                assert got is not None and view(got.documents) == as_read(f)
            else:
                assert (None if got is None else view(got.documents)) == expected[i], f
    finally:
        handle.close()
    # after close() nothing parsed ahead is left to take: the file is read as it is now
    st_ = same.stat()
    again = _fastyaml.warm([str(same)], PLAIN[1], MAX_DEPTH, 1, 1 << 30)
    _wait_parsed(again, 1)
    same.write_bytes(same.read_bytes().replace(b"kind: Nomespace", b"kind: Namespace"))
    os.utime(same, ns=(st_.st_atime_ns, st_.st_mtime_ns))
    again.close()
    got = yamlsource.ReadAhead([str(same)]).get(0)
    assert got is not None and got.documents[0].data["kind"] == "Namespace"


@needs_reader
def test_parsing_ahead_stops_when_the_read_starts_and_within_its_budget(tmp_path: Path) -> None:
    from edgewise import _fastyaml
    from edgewise.yamlread import MAX_DEPTH, PLAIN

    assert _fastyaml is not None and PLAIN is not None
    files = []
    for i in range(3000):
        f = tmp_path / f"f{i:04d}.yaml"
        f.write_text(f"kind: K\nmetadata:\n  name: n{i}\nspec:\n  items:\n" + "  - a: 1\n    b: two\n" * 40)
        files.append(str(f))
    handle = _fastyaml.warm(files, PLAIN[1], MAX_DEPTH, 1, 1 << 30)
    try:
        _wait_parsed(handle, 10)
        reader = yamlsource.ReadAhead(files[:1])  # a read starts: the warming stops
        time.sleep(0.2)
        stopped_at = handle.parsed()
        time.sleep(0.3)
        assert handle.parsed() == stopped_at < len(files)
        assert reader.get(0) is not None
    finally:
        handle.close()
    size = Path(files[0]).stat().st_size
    budget = 5 * size
    # the previous handle is let go only once this one started (its end must not drop
    # this one's parses)
    handle = _fastyaml.warm(files, PLAIN[1], MAX_DEPTH, 1, budget)
    try:
        deadline = time.monotonic() + 10
        while handle.parsed() < 6 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert handle.parsed() == 6  # the 6th file starts with 5 files' text parsed, within the budget
    finally:
        handle.close()


def test_the_files_parsed_ahead_are_listed_as_check_walks_them_and_not_forever(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from edgewise import yamlread

    for rel in ("b/2.yaml", "b/1.yml", "a/z.yaml", "a/c/x.yaml", "a/notes.txt", "top.yaml"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("a: 1\n")
    listed = yamlread._yaml_files([tmp_path, tmp_path / "top.yaml"])
    rel = [str(Path(f).relative_to(tmp_path)) for f in listed]
    assert rel == ["a/c/x.yaml", "a/z.yaml", "b/1.yml", "b/2.yaml", "top.yaml", "top.yaml"]
    monkeypatch.setattr(yamlread, "WARM_LIST_ENTRIES", 3)
    assert len(yamlread._yaml_files([tmp_path])) < 5  # stops listing a tree that large


@needs_reader
def test_check_reads_the_same_inputs_while_they_are_parsed_ahead(tmp_path: Path) -> None:
    from edgewise.check.inputs import load_paths
    from edgewise.yamlread import warming

    out = _plans(tmp_path)[0]
    cold = load_paths([out])
    with warming([out]):
        time.sleep(0.3)  # parsed ahead before the read starts
        warm = load_paths([out])
    assert [(o, s) for o, s in warm.objects] == [(o, s) for o, s in cold.objects]
    assert {k: view([d]) for k, d in warm.documents.items()} == {k: view([d]) for k, d in cold.documents.items()}
    assert warm.file_sizes == cold.file_sizes and warm.notes == cold.notes


def test_without_the_compiled_reader_nothing_is_read_ahead(tmp_path: Path) -> None:
    f = tmp_path / "a.yaml"
    f.write_text("a: 1\n")
    with pyyaml_only():
        assert yamlsource.ReadAhead([str(f)]).get(0) is None


@needs_reader
@pytest.mark.parametrize("how", ["read ahead", "load"])
def test_parsing_and_waiting_for_a_reader_thread_release_the_gil(tmp_path: Path, how: str) -> None:
    """Another Python thread runs while a file is parsed (load) or while the caller waits
    for a reader thread (read ahead). The other thread is woken just before the call and
    asks for the GIL only through its holder letting go (the switch interval is made
    longer than the test), so it can have run by the end of the call only if the call
    released the GIL. A parse that ends before the call waits is tried again, larger."""
    saved = sys.getswitchinterval()
    sys.setswitchinterval(1000.0)
    try:
        for attempt in range(6):
            text = "".join(f"---\nkind: K\nmetadata: {{name: n{i}}}\nspec:\n  items: [a, b, c]\n"
                           for i in range(20_000 * 2 ** attempt))
            big = tmp_path / f"big{attempt}.yaml"
            big.write_text(text)
            go = threading.Event()
            ran: list[bool] = []
            other = threading.Thread(target=lambda go=go, ran=ran: (go.wait(), ran.append(True)))
            other.start()
            if how == "read ahead":
                ahead = yamlsource.ReadAhead([str(big)])
                go.set()
                got = ahead.get(0)
                seen = bool(ran)
                assert got is not None and len(got.documents) == 20_000 * 2 ** attempt
            else:
                go.set()
                docs = fast_documents(text, "big.yaml")
                seen = bool(ran)
                assert docs is not None and len(docs) == 20_000 * 2 ** attempt
            other.join()
            if seen:
                break
        assert seen, "no other thread ran during the call: the GIL was held"
    finally:
        sys.setswitchinterval(saved)


@needs_reader
def test_a_fifo_named_yaml_is_left_alone(tmp_path: Path) -> None:
    """No reader thread waits for a FIFO's writer (it is not a regular file; the caller
    does not read it either)."""
    os.mkfifo(tmp_path / "pipe.yaml")
    assert yamlsource.ReadAhead([str(tmp_path / "pipe.yaml")]).get(0) is None


@needs_reader
def test_mapping_keys_are_interned() -> None:
    """Look-ups with literal keys (interned by Python) then compare pointers."""
    (doc,) = fast_documents("metadata: {name: x, 'quoted key': y}\n", "f.yaml") or []
    keys = [next(iter(doc.data)), *doc.data["metadata"]]
    assert all(sys.intern(k) is k for k in keys)


@needs_reader
def test_threads_reading_at_once_read_alike() -> None:
    texts = [f.read_text() for f in sorted((ROOT / "examples").rglob("*.yaml"))]
    serial = [view(d) if (d := fast_documents(t, "f.yaml")) else None for t in texts]
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        for _ in range(5):
            got = list(pool.map(lambda t: view(d) if (d := fast_documents(t, "f.yaml")) else None, texts))
            assert got == serial
