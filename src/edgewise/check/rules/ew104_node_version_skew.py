"""EW104: node AMI Kubernetes version outside the skew policy of the control plane."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from ..model import CheckContext, Finding, Rule, Severity
from ._common import SEED_WLZ, m

AMI_VERSION = re.compile(r"(?:optimized-ami|amazon-eks(?:-arm64|-gpu)?-node|eks/)[/-]?(1\.\d{1,2})\b")
MAX_OLDER = 3  # Kubernetes version skew policy since 1.28: nodes up to 3 minors older


def _ami_strings(value: Any, path: tuple[str | int, ...] = ()) -> list[tuple[str, tuple[str | int, ...]]]:
    """Every string inside ``value`` that names an AMI's Kubernetes version
    (:data:`AMI_VERSION`), with its path, in document order.

    A plan's templates hold thousands of strings and name few AMIs: a path is built only
    for containers and for the strings that match, and no generator is nested per level."""
    found: list[tuple[str, tuple[str | int, ...]]] = []

    def walk(node: dict[Any, Any] | list[Any], at: tuple[str | int, ...]) -> None:
        for k, v in node.items() if isinstance(node, dict) else enumerate(node):
            if isinstance(v, str):
                if AMI_VERSION.search(v):
                    found.append((v, (*at, k)))
            elif isinstance(v, dict | list):
                walk(v, (*at, k))

    if isinstance(value, str):
        if AMI_VERSION.search(value):
            found.append((value, path))
    elif isinstance(value, dict | list):
        walk(value, path)
    return found


def _minor(v: str) -> int:
    return int(v.split(".")[1])


class NodeVersionSkew(Rule):
    id = "EW104"
    name = "node-version-skew"
    severity = Severity.ERROR
    summary = "Self-managed node AMIs must match the control plane version (skew policy)."
    rationale = (
        f"{SEED_WLZ}: 'self-managed nodegroups inherit the Amazon EKS Kubernetes version "
        "from the Control Plane (--version=auto). However, outside of eksctl, it's likely "
        "that the selected versions of self-managed nodes could differ from the Control "
        "Plane'. Kubernetes allows kubelets at most 3 minors older, never newer."
    )
    fix = "use the EKS optimized AMI SSM parameter for the cluster's Kubernetes version"

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        cluster = ctx.topology.kubernetes_version if ctx.topology else None
        for cfg in ctx.cluster_configs:
            v = m(cfg.body.get("metadata")).get("version")
            cluster = str(v) if v else cluster
        for tpl in ctx.cfn_templates:
            for _lid, props in tpl.of_type("AWS::EKS::Cluster"):
                if props.get("Version"):
                    cluster = str(props["Version"])
        if not cluster or not re.match(r"^1\.\d+$", cluster):
            return
        for tpl in ctx.cfn_templates:
            # AMI SSM parameter paths sit in resource properties or in parameter defaults
            places = [(str(lid), ("Resources", lid), m(res).get("Properties")) for lid, res in tpl.resources.items()]
            places += [
                (str(pid), ("Parameters", pid), m(p).get("Default")) for pid, p in m(tpl.body.get("Parameters")).items()
            ]
            for lid, base, value in places:
                for text, path in _ami_strings(value, ()):
                    for mt in AMI_VERSION.finditer(text):
                        node = mt.group(1)
                        skew = _minor(cluster) - _minor(node)
                        if skew < 0 or skew > MAX_OLDER:
                            yield ctx.finding(
                                self,
                                None,
                                f"node AMI for Kubernetes {node} with a {cluster} control plane "
                                f"({'newer than' if skew < 0 else f'{skew} minors behind'} it)",
                                path=(*base, *path),
                                source=tpl.source,
                                object_ref=f"CloudFormation {lid}",
                            )
        for cfg in ctx.cluster_configs:
            for group in ("nodeGroups", "managedNodeGroups"):
                for i, ng in enumerate(cfg.body.get(group) or []):
                    for text, path in _ami_strings(m(ng).get("ami"), ("ami",)):
                        for mt in AMI_VERSION.finditer(text):
                            skew = _minor(cluster) - _minor(mt.group(1))
                            if skew < 0 or skew > MAX_OLDER:
                                yield ctx.finding(
                                    self,
                                    cfg,
                                    f"node group AMI for Kubernetes {mt.group(1)} with a {cluster} control plane",
                                    path=(group, i, *path),
                                )
