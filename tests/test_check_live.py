"""`edgewise check --kubeconfig`: the same rules on what a real cluster runs (the lab: a
real kube-apiserver, kube-scheduler and kube-controller-manager, kwok nodes)."""

from __future__ import annotations

import json
import os
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from edgewise.check.live import nodes_of, read_cluster
from edgewise.cli import cli
from edgewise.k8s.inventory import Inventory
from edgewise.lab import Lab
from edgewise.lab.control_plane import find_program
from edgewise.lab.nodes import node_objects
from edgewise.spec import load_spec
from edgewise.topology import Topology, build_topology

ROOT = Path(__file__).resolve().parents[1]
LZ_SPEC = ROOT / "examples" / "local-zones-hashicups" / "topology.yaml"
FLAT = ROOT / "tests" / "data" / "taints" / "flat-lz.yaml"
CHART = ROOT / "tests" / "data" / "check" / "helm-chart"
LAX, LAS, PHX = "us-west-2-lax-1a", "us-west-2-las-1a", "us-west-2-phx-2a"


def topo() -> Topology:
    return build_topology(load_spec(LZ_SPEC))


def register(lab: Lab, *, tainted: bool) -> dict[str, str]:
    """The topology's nodes, as EKS registers them; edge taints only when ``tainted``.
    Returns node name -> zone."""
    zones = {}
    for n in node_objects(topo()):
        meta = n["metadata"]
        taints = n["spec"].get("taints", []) if tainted else []
        lab.add_node(meta["name"], labels=meta["labels"], taints=taints, annotations=meta.get("annotations"))
        zones[meta["name"]] = meta["annotations"]["edgewise.dev/zone"]
    return zones


def apply_and_settle(lab: Lab, docs: list[dict[str, Any]], running: int, *, ready_endpoints: int = 0) -> None:
    """Apply, then wait until ``running`` pods run and the EndpointSlices hold
    ``ready_endpoints`` ready endpoints (check reads only ready ones, like kube-proxy)."""
    lab.apply(docs)

    def settled() -> bool:
        pods = [p for p in lab.client.list("v1", "Pod", "default") if p["status"].get("phase") == "Running"]
        slices = lab.client.list("discovery.k8s.io/v1", "EndpointSlice", "default")
        ready = sum(
            1 for s in slices for e in s.get("endpoints") or [] if (e.get("conditions") or {}).get("ready") is not False
        )
        return len(pods) >= running and bool(slices) and ready >= ready_endpoints

    lab.client.wait("pods running and endpoints published", settled, timeout=90)


def run(*args: str) -> Any:
    return CliRunner().invoke(cli, ["check", *args])


def flat_docs() -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(FLAT.read_text()) if d]


def test_flat_service_on_a_live_cluster(lab_clean: Lab) -> None:
    lab = lab_clean
    register(lab, tainted=False)
    apply_and_settle(lab, flat_docs(), running=4, ready_endpoints=3)  # the three api copies
    res = run("--kubeconfig", str(lab.kubeconfig), "--topology", str(LZ_SPEC), "--format", "json")
    assert res.exit_code == 1, res.output + res.stderr
    data = json.loads(res.output)
    ew301 = [f for f in data["findings"] if f["rule"] == "EW301"]
    assert [f["object"] for f in ew301] == ["Deployment default/web-lax"]
    assert LAS in ew301[0]["message"] and PHX in ew301[0]["message"]
    assert ew301[0]["file"].startswith("cluster:")
    assert any("as cluster context" in a for a in data["assumptions"])
    # without --topology the zones come from the nodes' labels
    res = run("--kubeconfig", str(lab.kubeconfig), "--format", "json")
    assert "EW301" in {f["rule"] for f in json.loads(res.output)["findings"]}


def test_workloads_are_where_the_scheduler_put_them(lab_clean: Lab) -> None:
    """No constraint: the model would spread over every zone; the real bindings decide."""
    lab = lab_clean
    zone_of = register(lab, tainted=True)  # edge nodes tainted: the scheduler keeps pods in the Region
    docs = flat_docs()[:4]  # api copies pinned to the three Local Zones: Pending (taint)
    free = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "free"},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "free"}},
            "template": {
                "metadata": {"labels": {"app": "free"}},
                "spec": {"containers": [{"name": "c", "image": "x"}]},
            },
        },
    }
    apply_and_settle(lab, [*docs, free], running=3)
    live = read_cluster(lab.kubeconfig)
    nodes, unknown = nodes_of(live.nodes, topo())
    assert unknown == [] and {n.zone for n in nodes} == set(zone_of.values())
    inv = Inventory.from_objects(live.objects, topo(), nodes=nodes)
    pods = lab.client.list("v1", "Pod", "default", label_selector="app=free")
    truth = Counter(zone_of[p["spec"]["nodeName"]] for p in pods if p["spec"].get("nodeName"))
    w = inv.workload_by_name("default", "free")
    assert w is not None and w.kind == "Deployment"  # counted once, through its Deployment
    assert w.zone_replicas == dict(truth) and set(w.zones) == set(truth)
    assert all(not topo().zone(z).is_edge for z in w.zones)
    # the Service routes to what its EndpointSlices hold: the ready pods of the bound copies
    svc = inv.service("default", "api")
    assert svc is not None and inv.select(svc) == ()  # every api copy is Pending
    # ... and the Pending copies are reported with the real taint that keeps them out
    res = run("--kubeconfig", str(lab.kubeconfig), "--topology", str(LZ_SPEC), "--format", "json")
    ew206 = {f["object"]: f["message"] for f in json.loads(res.output)["findings"] if f["rule"] == "EW206"}
    assert set(ew206) == {"Deployment default/api-lax", "Deployment default/api-las", "Deployment default/api-phx"}
    assert "taint edgewise.dev/edge=true:NoSchedule not tolerated" in ew206["Deployment default/api-lax"]


def test_unreadable_cluster_is_an_input_error(lab: Lab, tmp_path: Path) -> None:
    res = run("--kubeconfig", str(tmp_path / "missing"))
    assert res.exit_code == 2 and "no such kubeconfig" in res.stderr
    res = run("--kubeconfig", str(lab.kubeconfig), "--context", "no-such-context")
    assert res.exit_code == 2 and "kubectl" in res.stderr and "fix:" in res.stderr
    res = run()
    assert res.exit_code == 2 and "nothing to check" in res.stderr


@pytest.mark.parametrize(("constraint", "renders"), [(">=1.34.0-0", True), ("<1.34.0-0", False)])
def test_charts_render_for_the_version_the_cluster_runs(lab: Lab, tmp_path: Path, constraint: str,
                                                        renders: bool) -> None:
    """A chart checked beside a live cluster renders for the version the API server
    reports (the lab runs v1.34), not helm template's own default (v1.20), as helm
    install into that cluster would: a chart that requires 1.34 renders, one that
    refuses it is refused."""
    helm = find_program("helm")
    chart = tmp_path / "web"
    shutil.copytree(CHART, chart)
    (chart / "Chart.yaml").write_text((CHART / "Chart.yaml").read_text() + f'kubeVersion: "{constraint}"\n')
    env = {"PATH": f"{helm.parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    res = CliRunner().invoke(cli, ["check", "--kubeconfig", str(lab.kubeconfig), "--topology", str(LZ_SPEC),
                                   str(chart), "--format", "json", "-v"], env=env)
    if renders:
        assert res.exit_code in (0, 1), res.output
        report = json.loads(res.stdout)
        assert any(f["file"].startswith(str(chart)) for f in report["findings"]), report["findings"]
        assert any("(Kubernetes v1.34." in n for n in report["notes"]), report["notes"]
    else:
        assert res.exit_code == 2, res.output
        assert "incompatible with Kubernetes v1.34." in res.stderr, res.stderr
