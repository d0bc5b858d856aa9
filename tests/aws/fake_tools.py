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
* ``kubectl apply -k apps/APP`` also does what the AWS Load Balancer Controller would: for
  each Ingress of the application it creates the ALB in moto (elbv2, the name of its
  ``load-balancer-name`` annotation, in the subnets its ``subnets`` annotation names), so
  ``kubectl -n NS wait ingress/NAME`` succeeds and ``kubectl -n NS get ingress NAME -o
  jsonpath=...hostname`` prints that ALB's DNS name (a wait for an Ingress with no ALB
  fails, as kubectl's would time out);
* ``aws elbv2 describe-load-balancers --query "LoadBalancers[?DNSName=='$VAR']..."`` and
  ``aws route53 get-hosted-zone --id "$VAR"`` are answered from moto, ``$VAR`` from the
  environment the runner got;
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
            try:
                out.append(self._one(line, cwd, env))
            except _ToolFailed as exc:
                return RunResult(1, "".join(out), f"FakeTools: {exc}")
        return RunResult(0, "".join(out), "")

    def _one(self, line: str, cwd: Path, env: Mapping[str, str]) -> str:
        line = re.sub(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?", lambda m: env.get(m.group(1), m.group(0)), line)
        if line.startswith("kubectl apply -k "):
            self._load_balancer_controller(cwd / line.split()[3])
            return ""
        m = re.match(r"kubectl -n (\S+) (wait ingress/|get ingress )(\S+)", line)
        if m:
            host = self._alb_of(cwd, m.group(1), m.group(3))
            if host is None:
                raise _ToolFailed(f"timed out waiting for ingress {m.group(1)}/{m.group(3)}: no load balancer")
            return "" if m.group(2).startswith("wait") else host
        m = re.match(r"aws elbv2 describe-load-balancers .*DNSName=='([^']*)'\]\.CanonicalHostedZoneId", line)
        if m:
            import boto3

            lbs = boto3.client("elbv2", region_name=self.region).describe_load_balancers()["LoadBalancers"]
            return "".join(lb["CanonicalHostedZoneId"] for lb in lbs if lb["DNSName"] == m.group(1)) + "\n"
        m = re.match(r'aws route53 get-hosted-zone --id "?([^" ]+)"? --query HostedZone.Name', line)
        if m:
            import boto3

            return str(boto3.client("route53", region_name=self.region).get_hosted_zone(
                Id=m.group(1))["HostedZone"]["Name"]) + "\n"
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

    def _load_balancer_controller(self, app_dir: Path) -> None:
        import boto3

        ec2 = boto3.client("ec2", region_name=self.region)
        elbv2 = boto3.client("elbv2", region_name=self.region)
        have = {lb["LoadBalancerName"] for lb in elbv2.describe_load_balancers()["LoadBalancers"]}
        for doc in _ingresses(app_dir):
            meta = doc["metadata"]
            ann = meta["annotations"]
            if ann["alb.ingress.kubernetes.io/load-balancer-name"] in have:
                continue  # reconciled already
            names = [n.strip() for n in ann["alb.ingress.kubernetes.io/subnets"].split(",")]
            subnets = ec2.describe_subnets(Filters=[{"Name": "tag:Name", "Values": names}])["Subnets"]
            if len(subnets) != len(names):
                raise _ToolFailed(f"Ingress {meta['name']}: subnets {names} not all found")
            elbv2.create_load_balancer(
                Name=ann["alb.ingress.kubernetes.io/load-balancer-name"],
                Subnets=[s["SubnetId"] for s in subnets],
                Scheme=ann["alb.ingress.kubernetes.io/scheme"],
                Type="application",
            )

    def _alb_of(self, cwd: Path, namespace: str, name: str) -> str | None:
        """The DNS name of the ALB the controller made for Ingress ``namespace/name``."""
        import boto3
        from botocore.exceptions import ClientError

        for doc in _ingresses(cwd / "apps"):
            meta = doc["metadata"]
            if (meta["namespace"], meta["name"]) != (namespace, name):
                continue
            lb_name = meta["annotations"]["alb.ingress.kubernetes.io/load-balancer-name"]
            try:
                lbs = boto3.client("elbv2", region_name=self.region).describe_load_balancers(Names=[lb_name])
            except ClientError:
                return None
            return str(lbs["LoadBalancers"][0]["DNSName"])
        return None

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


def _ingresses(directory: Path) -> list[dict[str, Any]]:
    return [doc for f in sorted(directory.rglob("*.yaml")) for doc in yaml.safe_load_all(f.read_text())
            if isinstance(doc, dict) and doc.get("kind") == "Ingress"]


class _ToolFailed(Exception):
    """The tool exits 1 with this message."""


def _node(name: str, labels: dict[str, str]) -> dict[str, Any]:
    return {"metadata": {"name": name, "labels": labels},
            "status": {"conditions": [{"type": "Ready", "status": "True"}]}}
