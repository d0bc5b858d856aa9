"""Taints follow the evidence (issue: check on what users already run), and a workload
that fits no node is an error that says why, zone by zone."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from edgewise.check import check_paths
from edgewise.check.cli import check_command
from edgewise.check.taints import decide_taints, eksctl_taints
from edgewise.spec import load_spec
from edgewise.topology import build_topology

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data" / "taints"
FLAT = DATA / "flat-lz.yaml"
LZ_SPEC = ROOT / "examples" / "local-zones-hashicups" / "topology.yaml"
LAX, LAS, PHX = "us-west-2-lax-1a", "us-west-2-las-1a", "us-west-2-phx-2a"


def run(*args: str) -> Any:
    return CliRunner().invoke(check_command, list(args))


def rules_of(report: Any) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for f in report.findings:
        out.setdefault(f.rule, []).append(f)
    return out


def test_flat_service_over_three_local_zones_is_reported_with_default_options() -> None:
    """The issue's acceptance case: a caller in one Local Zone, a Service over all three."""
    res = run(str(FLAT), "--topology", str(LZ_SPEC), "--format", "json")
    assert res.exit_code == 1, res.output
    data = json.loads(res.output)
    ew301 = [f for f in data["findings"] if f["rule"] == "EW301"]
    assert len(ew301) == 1 and ew301[0]["object"] == "Deployment default/web-lax"
    assert LAS in ew301[0]["message"] and PHX in ew301[0]["message"]
    assert any("untainted" in a for a in data["assumptions"])


def test_flat_service_reported_without_a_topology_too() -> None:
    report = check_paths([FLAT], None)
    assert "EW301" in rules_of(report)
    assert any("untainted" in a for a in report.assumptions)


def test_the_text_output_states_the_assumption() -> None:
    res = run(str(FLAT), "--topology", str(LZ_SPEC))
    assert "assumed: edge nodes assumed untainted" in res.output


def test_eksctl_config_among_inputs_decides_the_taints() -> None:
    # lax and las are tainted by eksctl (list and map forms), phx is not
    report = check_paths([FLAT, DATA / "eksctl-edge-taint.yaml"], build_topology(load_spec(LZ_SPEC)))
    found = rules_of(report)
    unsched = {f.object for f in found.get("EW206", [])}
    assert unsched == {"Deployment default/api-lax", "Deployment default/api-las", "Deployment default/web-lax"}
    msg = next(f.message for f in found["EW206"] if f.object.endswith("api-las"))
    assert f"{LAS}: taint edgewise.dev/edge=true:NoSchedule not tolerated" in msg
    assert "EW301" not in found  # the only caller cannot run
    assert any("eksctl" in a for a in report.assumptions)


def test_manifests_that_tolerate_the_edge_taint_are_taken_as_edgewise_manifests(tmp_path: Path) -> None:
    text = FLAT.read_text().replace(
        "      nodeSelector: {topology.kubernetes.io/zone: us-west-2-phx-2a, kubernetes.io/os: linux}",
        "      nodeSelector: {topology.kubernetes.io/zone: us-west-2-phx-2a, kubernetes.io/os: linux}\n"
        "      tolerations: [{key: edgewise.dev/edge, operator: Exists, effect: NoSchedule}]",
    )
    (tmp_path / "m.yaml").write_text(text)
    report = check_paths([tmp_path / "m.yaml"], build_topology(load_spec(LZ_SPEC)))
    assert any("tolerate edgewise.dev/edge" in a for a in report.assumptions)
    unsched = {f.object for f in rules_of(report).get("EW206", [])}
    assert unsched == {"Deployment default/api-lax", "Deployment default/api-las", "Deployment default/web-lax"}


def test_untainted_edge_keeps_the_taints_the_topology_declares() -> None:
    spec = DATA / "topology-declared-taints.yaml"
    res = run(str(FLAT), "--topology", str(spec), "--untainted-edge", "--format", "json")
    data = json.loads(res.output)
    unsched = {f["object"] for f in data["findings"] if f["rule"] == "EW206"}
    assert len(unsched) == 4  # every Deployment is pinned to a tainted Local Zone
    assert all(
        "dedicated=edge:NoSchedule not tolerated" in f["message"] for f in data["findings"] if f["rule"] == "EW206"
    )
    assert any("--untainted-edge" in a for a in data["assumptions"])


def test_decide_taints_order_of_evidence() -> None:
    tolerating = {
        "kind": "Deployment",
        "apiVersion": "apps/v1",
        "spec": {"template": {"spec": {"tolerations": [{"key": "edgewise.dev/edge", "operator": "Exists"}]}}},
    }
    cronjob = {
        "kind": "CronJob",
        "apiVersion": "batch/v1",
        "spec": {"jobTemplate": {"spec": {"template": {"spec": {"tolerations": [{"key": "edgewise.dev/edge"}]}}}}},
    }
    eksctl = {"kind": "ClusterConfig", "apiVersion": "eksctl.io/v1alpha5", "nodeGroups": []}
    assert decide_taints([], None).edge_taint is False
    assert decide_taints([tolerating], None).edge_taint is True
    assert decide_taints([cronjob], None).edge_taint is True
    assert decide_taints([tolerating], None, untainted_edge=True).edge_taint is False
    # an eksctl config is stronger than a toleration: its node groups say what the nodes carry
    assert decide_taints([tolerating, eksctl], None).edge_taint is False


def test_eksctl_taint_forms() -> None:
    assert eksctl_taints({"taints": {"a": "b:NoExecute", "c": ""}}) == [
        {"key": "a", "value": "b", "effect": "NoExecute"},
        {"key": "c", "value": "", "effect": "NoSchedule"},
    ]
    assert eksctl_taints({"taints": [{"key": "a", "effect": "NoSchedule"}, {"value": "no key"}]}) == [
        {"key": "a", "value": "", "effect": "NoSchedule"}
    ]


def test_unschedulable_reasons_name_selector_and_affinity(tmp_path: Path) -> None:
    doc = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: gpu}
spec:
  replicas: 1
  selector: {matchLabels: {app: gpu}}
  template:
    metadata: {labels: {app: gpu}}
    spec:
      nodeSelector: {node.kubernetes.io/instance-type: p4d.24xlarge}
      affinity:
        nodeAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
            nodeSelectorTerms:
              - matchExpressions: [{key: kubernetes.io/arch, operator: In, values: [arm64]}]
      containers: [{name: c, image: x}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: scaled-down}
spec:
  replicas: 0
  selector: {matchLabels: {app: s}}
  template:
    metadata: {labels: {app: s}}
    spec:
      nodeSelector: {kubernetes.io/os: windows}
      containers: [{name: c, image: x}]
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: windows-agent}
spec:
  selector: {matchLabels: {app: w}}
  template:
    metadata: {labels: {app: w}}
    spec:
      nodeSelector: {kubernetes.io/os: windows}
      containers: [{name: c, image: x}]
"""
    (tmp_path / "m.yaml").write_text(doc)
    report = check_paths([tmp_path / "m.yaml"], build_topology(load_spec(LZ_SPEC)), select=["EW206"])
    assert [f.object for f in report.findings] == ["Deployment default/gpu"]  # not the replicas: 0 / DaemonSet
    msg = report.findings[0].message
    it = "node.kubernetes.io/instance-type"
    assert f"nodeSelector {it}=p4d.24xlarge (node has {it}=m6i.large)" in msg
    assert "required node affinity: kubernetes.io/arch In arm64 (node has kubernetes.io/arch=amd64)" in msg
    assert report.findings[0].line == 10  # the pod template's spec
