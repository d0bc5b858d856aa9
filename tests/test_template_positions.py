"""The lines plan's check gives CloudFormation templates' sections, parameters, resources
and outputs (``workflow._template_document``) are those the key pattern finds when
searched over the whole text with ``^`` and ``re.M`` (how it was found until the
line-by-line search, which tries the pattern only on lines indented less than three
spaces), on generated texts and on every template an example plan writes."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from conftest import EXAMPLES_DIR
from edgewise.workflow import _template_document, run_plan

_SECTIONS = {"Parameters", "Resources", "Outputs", "Mappings", "Conditions"}
_KEY_ANYWHERE = re.compile(r"^( ?)( ?)([A-Za-z][A-Za-z0-9]*):", re.M)


def _reference(text: str) -> dict[tuple[str | int, ...], tuple[int, int]]:
    positions: dict[tuple[str | int, ...], tuple[int, int]] = {}
    line, at, section = 1, 0, ""
    for m in _KEY_ANYWHERE.finditer(text):
        line += text.count("\n", at, m.start())
        at = m.start()
        if not m.group(1):
            section = m.group(3)
            positions[(section,)] = (line, 1)
            positions.setdefault((), (line, 1))
        elif m.group(2) and section in _SECTIONS:
            positions[(section, m.group(3))] = (line, 3)
    return positions


_name = st.sampled_from([*_SECTIONS, "AWSTemplateFormatVersion", "Vpc", "Subnet1", "x", "Type", "a1"])
_line = st.tuples(st.sampled_from(["", " ", "  ", "   ", "    ", "- ", "  - ", "\t"]),
                  st.one_of(_name, st.text(alphabet="aZ09:- '#\r", max_size=6)),
                  st.sampled_from([":", ": value", ":x", "", " :", ": |"])).map("".join)


@given(st.lists(_line, max_size=40), st.booleans())
def test_template_lines_equal_a_search_over_the_whole_text(lines: list[str], final_newline: bool) -> None:
    text = "\n".join(lines) + ("\n" if final_newline else "")
    doc = _template_document("t.cfn.yaml", text, {})
    assert doc.positions == _reference(text)
    assert doc.line == _reference(text).get((), (1, 1))[0]


def test_template_lines_of_a_plan_equal_a_search_over_the_whole_text(tmp_path: Path) -> None:
    result = run_plan([EXAMPLES_DIR / "wavelength"], None, with_simulation=False, fork=False)
    templates = {p: t for p, t in result.files.items() if p.endswith(".cfn.yaml")}
    assert len(templates) >= 3
    for path, text in templates.items():
        body: Any = {}
        positions = _template_document(path, text, body).positions
        assert positions == _reference(text), path
        assert ("Resources",) in positions
        assert text.splitlines()[positions[("Resources",)][0] - 1] == "Resources:"
