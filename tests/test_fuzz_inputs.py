"""Fuzzing the input boundary (issue 18): spec mutations and hostile YAML.

Every run of `validate`, `plan` and `check` on whatever hypothesis makes must end in one
of the documented exit codes (0, 1, 2) with no traceback, and within bounded memory.
The runs are bounded (a fixed number of examples, derandomized so CI sees the same
cases); a failure prints the input that caused it."""

from __future__ import annotations

import copy
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import EXAMPLES_DIR
from edgewise.cli import cli

FUZZ = settings(max_examples=50, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
#: memory any one run may take (the Python heap as tracemalloc sees it)
MAX_HEAP = 256 * 2**20

SPECS = {p.parent.name + "/" + p.name: list(yaml.safe_load_all(p.read_text()))
         for p in sorted(EXAMPLES_DIR.glob("*/*.yaml"))}
SPEC_DIRS = {name.split("/")[0]: [n for n in SPECS if n.startswith(name.split("/")[0] + "/")] for name in SPECS}


def invoke(*args: str) -> Result:
    tracemalloc.start()
    try:
        res = CliRunner().invoke(cli, list(args))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert res.exit_code in (0, 1, 2), f"exit {res.exit_code}\n{res.output}"
    assert res.exception is None or isinstance(res.exception, SystemExit), repr(res.exception)
    assert "Traceback" not in res.output
    assert peak < MAX_HEAP, f"{peak / 2**20:.0f} MiB"
    return res


# -- spec mutations ------------------------------------------------------------------------

HOSTILE_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=40),
    st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x2FF), max_size=20),
    st.sampled_from(["", " ", "us-east-1", "us-east-1a", "us-east-1-wl1-nyc-wlz-1", "10.0.0.0/8", "0.0.0.0/0",
                     "a" * 300, "../../etc", "$(id)", "{{x}}", "2024-02-30", "*", "-1", "1e309", "∞", "\u202e"]),
    st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
)


def _paths(data: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(data, dict):
        for k, v in data.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            out += _paths(v, (*prefix, i))
    return out


@st.composite
def mutated_specs(draw: st.DrawFn) -> tuple[str, list[str]]:
    example = draw(st.sampled_from(sorted(SPEC_DIRS)))
    files = {n: copy.deepcopy(SPECS[n]) for n in SPEC_DIRS[example]}
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        name = draw(st.sampled_from(sorted(files)))
        docs = files[name]
        d = draw(st.integers(min_value=0, max_value=len(docs) - 1))
        paths = _paths(docs[d])[1:]
        if not paths:
            continue
        path = draw(st.sampled_from(paths))
        parent: Any = docs[d]
        for part in path[:-1]:
            parent = parent[part]
        action = draw(st.sampled_from(["replace", "delete", "duplicate", "rename"]))
        key = path[-1]
        if action == "replace":
            parent[key] = draw(HOSTILE_VALUES)
        elif action == "delete":
            del parent[key]
        elif action == "duplicate" and isinstance(parent, list):
            parent.append(copy.deepcopy(parent[key]))
        elif action == "rename" and isinstance(parent, dict):
            parent[draw(st.text(min_size=1, max_size=12))] = parent.pop(key)
    rendered = [yaml.safe_dump_all(docs, sort_keys=False, allow_unicode=True) for docs in files.values()]
    return example, rendered


@settings(FUZZ, max_examples=40)
@given(case=mutated_specs())
def test_mutated_specs_end_in_a_documented_exit_code(case: tuple[str, list[str]], tmp_path: Path) -> None:
    example, texts = case
    spec = tmp_path / f"spec-{example}"
    spec.mkdir(exist_ok=True)
    for old in spec.iterdir():
        old.unlink()
    for i, text in enumerate(texts):
        (spec / f"{i}.yaml").write_text(text)
    res = invoke("validate", str(spec))
    if res.exit_code == 0:
        out = tmp_path / f"out-{example}"
        invoke("plan", str(spec), "-o", str(out), "-q", "--simulate", "never")


# -- hostile YAML ---------------------------------------------------------------------------

TOKENS = st.sampled_from([
    "a", "kind", "apiVersion", "metadata", "name", "spec", "zones", "Deployment", "v1", ":", ": ", "- ", "\n",
    "\n  ", "\n    ", "[", "]", "{", "}", ",", "&a ", "*a", "&b ", "*b", "<<: ", "!!float ", "!!int ", "!!bool ",
    "!!timestamp ", "!!binary ", "!!str ", "!!map ", "!!seq ", "!!set ", "!!omap ", "!!python/object:os.system ",
    "!Ref ", "!Sub ", "!GetAtt ", "!!null ", "? ", "|\n  ", ">-\n  ", "'", '"', "\\x01", "\x01", "\x7f", "\x85",
    "\ufeff", "\t", "#", "---\n", "...\n", "%YAML 1.1\n", "2024-02-30", "2024-02-29T25:61:00", "0x", "0o9", "1e999",
    ".nan", "-.inf", "~", "null", "yes", "no", "on", "maybe", "99999999999999999999999", "-1", "0b102",
    "edgewise.dev/v1alpha1", "Topology", "Application", "apps/v1", "Service", "CronJob",
])


@FUZZ
@given(text=st.lists(TOKENS, min_size=1, max_size=60).map("".join))
def test_hostile_yaml_ends_in_a_documented_exit_code(text: str, tmp_path: Path) -> None:
    f = tmp_path / "input.yaml"
    f.write_text(text, encoding="utf-8")
    invoke("validate", str(f))
    invoke("check", str(f))


@settings(FUZZ, max_examples=20)
@given(depth=st.integers(min_value=1, max_value=2000), fan=st.integers(min_value=1, max_value=12),
       levels=st.integers(min_value=1, max_value=12), flow=st.booleans())
def test_nesting_and_alias_bombs_are_bounded(depth: int, fan: int, levels: int, flow: bool, tmp_path: Path) -> None:
    f = tmp_path / "bomb.yaml"
    lines = ["x: " + ("[" * depth + "]" * depth if flow else "{a: " * depth + "1" + "}" * depth),
             "l0: &l0 [lol]"]
    lines += [f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * fan) + "]" for i in range(1, levels)]
    f.write_text("\n".join(lines) + "\n")
    invoke("validate", str(f))
    invoke("check", str(f))


@pytest.mark.parametrize("example", sorted(SPEC_DIRS))
def test_the_seeds_are_valid(example: str) -> None:
    """The mutations start from valid specs, so a failure is the mutation's doing."""
    assert invoke("validate", str(EXAMPLES_DIR / example)).exit_code == 0
