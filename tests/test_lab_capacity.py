"""EW207 against the real kube-scheduler: what the rule calls Pending stays Pending.

Each fixture of the rule (tests/data/rules/EW207) is applied to the lab with the nodes
its Topology's node groups register (edgewise.lab.nodes: the instance type's vCPUs as
capacity, ``desired`` nodes, equal to ``max`` in the fixtures). The scheduler must leave
Pending, for "Insufficient cpu", at least the CPU the rule says cannot fit in each zone
set it flags, and bind every pod of the PASS fixture.
"""

from __future__ import annotations

import re
from fractions import Fraction
from pathlib import Path
from typing import Any

import yaml

from edgewise.check import check_paths
from edgewise.k8s.resources import pod_request
from edgewise.lab import Lab
from edgewise.lab.nodes import node_objects
from edgewise.lab.placement import wait_settled
from edgewise.spec import Spec
from edgewise.spec.loader import Document
from edgewise.spec.models import Topology as TopologyModel
from edgewise.topology import build_topology

DATA = Path(__file__).parent / "data" / "rules" / "EW207"
AT_LEAST = re.compile(r"at least ([0-9.]+) CPU of pods stay Pending")


def _run(lab: Lab, fixture: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    docs = [d for d in yaml.safe_load_all(fixture.read_text()) if d]
    topo_doc = next(d for d in docs if d["kind"] == "Topology")
    topology = build_topology(
        Spec(
            topology=TopologyModel.model_validate(topo_doc),
            topology_doc=Document(str(fixture), 0, 0, topo_doc),
            applications=(),
        )
    )
    for ng in (z.node_group for z in topology.zones):
        assert ng is not None and ng.desired == ng.max_size, "the lab registers `desired` nodes: keep max equal"
    nodes = node_objects(topology)
    for n in nodes:
        lab.add_node(
            n["metadata"]["name"],
            labels=n["metadata"]["labels"],
            taints=n["spec"].get("taints", []),
            capacity=n["status"]["capacity"],
            wait=False,
        )
    lab.wait_nodes_ready([n["metadata"]["name"] for n in nodes])
    workloads = [d for d in docs if d["kind"] == "Deployment"]
    lab.apply(workloads)
    expected = sum(int(d["spec"]["replicas"]) for d in workloads)
    outcomes = wait_settled(lab.client, "shop", expected, timeout=180)
    pods = lab.client.list("v1", "Pod", "shop")
    by_name = {p["metadata"]["name"]: p for p in pods}
    return {name: (o, by_name[name]) for name, o in outcomes.items()}, workloads


def test_fail_fixture_leaves_what_the_rule_says_pending(lab_clean: Lab) -> None:
    report = check_paths([DATA / "fail.yaml"], None, select=["EW207"])
    flagged = [f for f in report.findings if f.rule == "EW207"]
    assert len(flagged) == 2
    results, _ = _run(lab_clean, DATA / "fail.yaml")
    pending: dict[str, Fraction] = {}
    for outcome, pod in results.values():
        if outcome.bound:
            continue
        assert "Insufficient cpu" in outcome.reason, outcome.reason
        app = pod["metadata"]["labels"]["app"]
        pending[app] = pending.get(app, Fraction(0)) + pod_request(pod["spec"], "cpu")
    for f in flagged:
        app = f.object.split("/")[-1]  # one Deployment per zone set in the fixture
        shortfall = Fraction(AT_LEAST.search(f.message).group(1))  # type: ignore[union-attr]
        assert pending.get(app, Fraction(0)) >= shortfall, (f.message, pending)


def test_pass_fixture_binds_every_pod(lab_clean: Lab) -> None:
    report = check_paths([DATA / "pass.yaml"], None, select=["EW207"])
    assert [f for f in report.findings if f.rule == "EW207"] == []
    results, workloads = _run(lab_clean, DATA / "pass.yaml")
    assert len(results) == sum(int(d["spec"]["replicas"]) for d in workloads)
    assert [o.reason for o, _ in results.values() if not o.bound] == []
