"""apply's final verify against a real control plane (edgewise.lab: kube-apiserver,
kube-scheduler, controllers, kwok as the kubelets), with the real kubectl: the nodes the
plan's node groups bring, CoreDNS as EKS ships it, then the RUNBOOK's own CoreDNS patch."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from edgewise.aws.apply import ApplyFailed, ShellRunner, _Applier
from edgewise.plan.cluster.steps import Command, VerifyCluster, runbook_from_json
from edgewise.plan.labels import EDGE_TAINT_KEY, ROLE_LABEL, ZONE_LABEL
from edgewise.workflow import run_plan

ROOT = Path(__file__).resolve().parents[2]

#: CoreDNS as an EKS cluster starts with it (two replicas, no edge pinning)
COREDNS = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "coredns", "namespace": "kube-system", "labels": {"k8s-app": "kube-dns"}},
    "spec": {
        "replicas": 2,
        "selector": {"matchLabels": {"k8s-app": "kube-dns"}},
        "template": {
            "metadata": {"labels": {"k8s-app": "kube-dns"}},
            "spec": {"containers": [{"name": "coredns",
                                     "image": "public.ecr.aws/eks-distro/coredns/coredns:v1.11.3"}]},
        },
    },
}


def test_verify_against_a_real_control_plane(lab_clean: Any, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    lab = lab_clean
    plan = tmp_path / "plan"
    run_plan([ROOT / "examples" / "wavelength"], plan, with_simulation=False)
    rb = runbook_from_json((plan / "runbook.json").read_text())
    verify = next(a for a in rb.step("verify").actions if isinstance(a, VerifyCluster))
    # the nodes: eksctl's node groups with their labels, the Wavelength groups with the edge taint
    cfg = yaml.safe_load((plan / "cluster" / "eksctl.yaml").read_text())
    names: dict[str, list[str]] = {}
    for ng in cfg["nodeGroups"]:
        for i in range(ng["desiredCapacity"]):
            name = f"{ng['name']}-{i}"
            lab.add_node(name, labels={**ng["labels"], "kubernetes.io/hostname": name}, wait=False)
            names.setdefault(ng["labels"][ZONE_LABEL], []).append(name)
    eksctl_zones = set(names)
    for zone, desired in verify.nodes:
        if zone in eksctl_zones:
            continue
        for i in range(desired):
            name = f"wl-{zone}-{i}"[:63]
            lab.add_node(name, labels={ROLE_LABEL: "edge", ZONE_LABEL: zone, "kubernetes.io/hostname": name},
                         taints=[{"key": EDGE_TAINT_KEY, "value": "true", "effect": "NoSchedule"}], wait=False)
            names.setdefault(zone, []).append(name)
    lab.wait_nodes_ready([n for ns in names.values() for n in ns])
    lab.apply([COREDNS])
    monkeypatch.setenv("KUBECONFIG", str(lab.kubeconfig))
    log: list[str] = []
    ap = _Applier(plan, rb, None, ShellRunner(), log.append, lambda _q: True, 0.05, 60)
    try:
        # the RUNBOOK's CoreDNS lines, through the real kubectl
        coredns = [a.line for a in rb.step("addons").actions
                   if isinstance(a, Command) and "coredns" in a.line and a.line.startswith("kubectl")]
        assert coredns
        ap.commands(coredns, rb.step("addons"))
        ap.verify(verify)
        assert any(m.startswith("  verified: us-east-1a: 2, us-east-1b: 2, us-east-1-wl1-bos-wlz-1: 2")
                   and m.endswith("CoreDNS on 2 Region nodes") for m in log)
        # a zone short of nodes fails verify, naming the zone
        lab.client.delete("v1", "Node", names["us-east-1b"][0])
        with pytest.raises(ApplyFailed, match="us-east-1b: 1 Ready nodes, expected 2"):
            ap.verify(verify)
    finally:
        lab.client.delete("apps/v1", "Deployment", "coredns", "kube-system")
