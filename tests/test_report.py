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


def test_a_draft_is_finished_with_the_findings_alone() -> None:
    """plan drafts the report while check runs and finishes it with the findings: the
    draft holds everything else, and finishing it twice gives two independent reports."""
    from pathlib import Path

    from edgewise.check.finding import Finding, Severity
    from edgewise.plan.apps import plan_application
    from edgewise.report import ReportDraft, render_report
    from edgewise.spec import load_spec
    from edgewise.topology import build_topology

    spec = load_spec(Path(__file__).parent.parent / "examples" / "local-zones-hashicups")
    topo = build_topology(spec)
    plans = [plan_application(topo, app, doc) for app, doc in spec.applications]
    draft = ReportDraft(topo, plans, None, simulation_note="not simulated here")
    found = [Finding("apps/a.yaml", 3, "EW204", "single-replica", Severity.WARNING, "Deployment a/b", "one | copy"),
             Finding("apps/c.yaml", 9, "EW301", "spans", Severity.ERROR, "Service c/d", "crosses zones")]
    with_findings = {a.path: a.text for a in draft.finish(found)}
    without = {a.path: a.text for a in draft.finish([])}
    assert sorted(with_findings) == sorted(without) == ["report.json", "report.md"]
    assert with_findings == {a.path: a.text for a in render_report(topo, plans, found, None,
                                                                   simulation_note="not simulated here")}
    data, bare = json.loads(with_findings["report.json"]), json.loads(without["report.json"])
    assert data["check"] == {"counts": {"error": 1, "warning": 1, "info": 0}, "findings": [f.as_dict() for f in found]}
    assert bare["check"] == {"counts": {"error": 0, "warning": 0, "info": 0}, "findings": []}
    assert {k: v for k, v in data.items() if k != "check"} == {k: v for k, v in bare.items() if k != "check"}
    assert list(data) == ["topology", "applications", "check", "simulation", "simulationNote"]
    assert data["applications"][0]["routes"] and data["topology"]["zones"]
    md, bare_md = with_findings["report.md"], without["report.md"]
    assert "| warning | EW204 single-replica | apps/a.yaml:3 | Deployment a/b | one \\| copy |" in md
    assert "1 errors, 1 warnings, 0 notices." in md and "0 errors, 0 warnings, 0 notices." in bare_md
    assert md.endswith("## Simulation\n\nnot simulated here.") and bare_md.endswith("not simulated here.")
    assert md.index("## Zones") < md.index("## Application") < md.index("## Check") < md.index("## Simulation")
