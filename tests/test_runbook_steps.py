"""The RUNBOOK as data: RUNBOOK.md and runbook.json come from the same steps."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgewise.plan.artifacts import render_tree
from edgewise.plan.cluster import plan_cluster
from edgewise.plan.cluster.runbook import runbook
from edgewise.plan.cluster.steps import DeployStack, ExportStackOutputs, OptIn, RenderTemplate, runbook_from_json
from edgewise.spec import load_spec
from edgewise.topology import build_topology

ROOT = Path(__file__).resolve().parents[1]
SPECS = [
    ROOT / "examples" / "outposts",
    ROOT / "examples" / "wavelength",
    ROOT / "examples" / "local-zones-hashicups",
    ROOT / "tests" / "data" / "cluster" / "mixed-public.yaml",
    ROOT / "tests" / "data" / "cluster" / "existing-vpc.yaml",
]


@pytest.mark.parametrize("spec", SPECS, ids=lambda p: p.stem)
def test_runbook_json_round_trips_to_the_same_markdown(spec: Path) -> None:
    topo = build_topology(load_spec(spec))
    tree = render_tree(plan_cluster(topo, ("shop",)))
    parsed = runbook_from_json(tree["runbook.json"])
    assert parsed.render() == tree["RUNBOOK.md"]
    assert parsed == runbook(topo, ("shop",))


@pytest.mark.parametrize("spec", SPECS, ids=lambda p: p.stem)
def test_every_stack_template_and_rendered_file_is_in_the_plan(spec: Path) -> None:
    topo = build_topology(load_spec(spec))
    tree = render_tree(plan_cluster(topo, ("shop",)))
    rb = runbook(topo, ("shop",))
    for step in rb.steps:
        for a in step.actions:
            if isinstance(a, DeployStack):
                assert a.template in tree, f"{step.key}: {a.template} is not written by plan"
            if isinstance(a, RenderTemplate):
                assert a.source in tree
                for var in a.variables:
                    assert "${" + var + "}" in tree[a.source]
    groups = [a.group for s in rb.steps for a in s.actions if isinstance(a, OptIn)]
    assert groups == sorted({z.group for z in topo.zones if z.kind.value in ("local", "wavelength") and z.group})
    # only clean-up is left out of apply, and it comes last
    assert [s.key for s in rb.steps if not s.apply] == ["cleanup"] == [rb.steps[-1].key]


def test_stack_output_exports_name_outputs_of_the_network_stack() -> None:
    topo = build_topology(load_spec(ROOT / "examples" / "wavelength"))
    tree = render_tree(plan_cluster(topo))
    import yaml

    outputs = set(yaml.safe_load(tree["cluster/network.cfn.yaml"])["Outputs"])
    exports = [a for s in runbook(topo).steps for a in s.actions if isinstance(a, ExportStackOutputs)]
    assert exports
    for e in exports:
        assert {o for _, o in e.exports} <= outputs


def test_malformed_runbook_json_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="version"):
        runbook_from_json('{"version": 99}')
    with pytest.raises(ValueError, match="malformed"):
        runbook_from_json('{"version": 1, "title": "x"}')
