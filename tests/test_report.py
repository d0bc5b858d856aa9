"""report.json's layout: standard indented JSON at the top, one record per line below."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from edgewise.report import records_json

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_records_json_is_the_same_json(value: Any) -> None:
    assert json.loads(records_json(value)) == value
    assert records_json(value, depth=10**6) == json.dumps(value, indent=2) + "\n"


def test_records_below_the_depth_are_one_line_each() -> None:
    data = {"check": {"findings": [{"rule": "EW301", "line": 3}, {"rule": "EW201", "line": 9}]}}
    lines = records_json(data).splitlines()
    assert '      {"rule": "EW301", "line": 3},' in lines
    assert '      {"rule": "EW201", "line": 9}' in lines
    assert lines[0] == "{" and lines[-1] == "}"
