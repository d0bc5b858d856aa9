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

import re
import shutil
import sys
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
    assert len(files) > 100
    slow = []
    for f in files:
        text = f.read_text()
        if not agree(text):
            slow.append(f)
    # only files the reader leaves to PyYAML on purpose (backslash escapes, block
    # scalars: CloudFormation user data, Helm values) fall back, and they are few
    assert all(re.search(r"\\|: [|>][-+]?$", f.read_text(), re.M) for f in slow), slow
    assert len(slow) <= 0.05 * len(files)


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
