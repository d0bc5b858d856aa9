"""FakeTools: a step runner that stands in for eksctl, helm and kubectl in the apply tests.

It does not run bash. It reads each line of a script and does what the tool would do to
the emulated account, as far as apply can observe it:

* ``eksctl create cluster -f FILE`` reads the (rendered) ClusterConfig, refuses a file
  with unfilled ``${VAR}``, creates the EKS cluster in moto (with the cluster security
  group EKS would add) and one Ready node per desired instance of each node group, with
  the group's labels;
* ``kubectl get nodes -o json`` lists those nodes plus one per desired instance of every
  Auto Scaling group moto holds with an ``edgewise.dev/zone`` tag (the Wavelength node
  groups), labelled as their launch template's kubelet flags would;
* ``kubectl -n kube-system get pods -l k8s-app=kube-dns -o json`` places two CoreDNS pods
  the way the scheduler would with the patch applied (nodeSelector and anti-affinity), or
  on the first two nodes without it;
* everything else (helm, kubectl apply/patch/rollout, eksctl utils) is recorded.

``fail`` makes the first line that contains the given text exit 1 (once).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from edgewise.aws.apply import RunResult
from edgewise.plan.labels import REGION_NODE_LABEL, ROLE_LABEL, ZONE_LABEL

ACCOUNT_ID = "123456789012"


@dataclass
class FakeTools:
    region: str
    fail: str | None = None
    lines: list[str] = field(default_factory=list)
    envs: list[dict[str, str]] = field(default_factory=list)
    nodes: list[dict[str, Any]] = field(default_factory=list)
    coredns_patched: bool = False

    def run(self, script: str, *, env: Mapping[str, str], cwd: Path) -> RunResult:
        self.envs.append(dict(env))
        out: list[str] = []
        for line in script.splitlines():
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            self.lines.append(line)
            if self.fail is not None and self.fail in line:
                self.fail = None
                return RunResult(1, "", f"FakeTools: {line.split()[0]} failed as the test asked")
            out.append(self._one(line, cwd))
        return RunResult(0, "".join(out), "")

    def _one(self, line: str, cwd: Path) -> str:
        if line.startswith("eksctl create cluster"):
            self._create_cluster(cwd / line.split("-f", 1)[1].split()[0])
            return ""
        if line.startswith("kubectl get nodes -o json"):
            return json.dumps({"items": self._all_nodes()})
        if line.startswith("kubectl -n kube-system get pods -l k8s-app=kube-dns -o json"):
            return json.dumps({"items": self._coredns()})
        if line.startswith("kubectl -n kube-system patch deployment coredns"):
            self.coredns_patched = True
        return ""

    def _create_cluster(self, config: Path) -> None:
        import boto3
        from moto.eks.models import eks_backends

        text = config.read_text()
        if re.search(r"\$\{[A-Z_]+\}", text):
            raise AssertionError(f"eksctl got {config} with unfilled placeholders")
        cfg = yaml.safe_load(text)
        name = cfg["metadata"]["name"]
        eks = boto3.client("eks", region_name=self.region)
        eks.create_cluster(
            name=name,
            version=str(cfg["metadata"]["version"]),
            roleArn=f"arn:aws:iam::{ACCOUNT_ID}:role/eksctl-{name}-cluster-ServiceRole",
            resourcesVpcConfig={"subnetIds": list(cfg["vpc"]["controlPlaneSubnetIDs"])},
        )
        # what EKS adds to every cluster and moto leaves out
        eks_backends[ACCOUNT_ID][self.region].clusters[name].resources_vpc_config["clusterSecurityGroupId"] = (
            "sg-0fa4e00c1usterf4e"
        )
        for ng in cfg.get("nodeGroups", []):
            for i in range(int(ng.get("desiredCapacity", 0))):
                self.nodes.append(_node(f"{ng['name']}-{i}", dict(ng.get("labels", {}))))

    def _all_nodes(self) -> list[dict[str, Any]]:
        import boto3

        asg = boto3.client("autoscaling", region_name=self.region)
        extra = []
        for g in asg.describe_auto_scaling_groups()["AutoScalingGroups"]:
            tags = {t["Key"]: t["Value"] for t in g.get("Tags", [])}
            zone = tags.get(ZONE_LABEL)
            if zone is None:
                continue
            for i in range(int(g["DesiredCapacity"])):
                extra.append(_node(f"{g['AutoScalingGroupName']}-{i}", {ROLE_LABEL: "edge", ZONE_LABEL: zone}))
        return self.nodes + extra

    def _coredns(self) -> list[dict[str, Any]]:
        nodes = self._all_nodes()
        if self.coredns_patched:
            nodes = [n for n in nodes if n["metadata"]["labels"].get(REGION_NODE_LABEL) == "true"]
        return [{"metadata": {"name": f"coredns-{i}"}, "spec": {"nodeName": n["metadata"]["name"]}}
                for i, n in enumerate(nodes[:2])]


def _node(name: str, labels: dict[str, str]) -> dict[str, Any]:
    return {"metadata": {"name": name, "labels": labels},
            "status": {"conditions": [{"type": "Ready", "status": "True"}]}}
