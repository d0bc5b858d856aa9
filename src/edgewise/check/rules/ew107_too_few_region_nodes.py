"""EW107: edge zones present but fewer than two nodes in the Region."""

from __future__ import annotations

from collections.abc import Iterator

from ..model import CheckContext, Finding, Rule, Severity
from ._common import SEED_WLZ, eksctl_node_groups


class TooFewRegionNodes(Rule):
    id = "EW107"
    name = "too-few-region-nodes"
    severity = Severity.WARNING
    summary = "With edge zones, keep at least two nodes in the Region (CoreDNS, shared services)."
    rationale = (
        f"{SEED_WLZ}: 'all multi-Wavelength Zone Amazon EKS deployments require at least "
        "one node in the Parent Region for core-dns to be scheduled. In practice, highly "
        "available workloads should be architected with at least two nodes'."
    )
    fix = "give the Region node groups desiredCapacity/minSize >= 2 in total"

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        groups = list(eksctl_node_groups(ctx))
        if not groups:
            return
        edge = [g for g in groups if any(ctx.is_edge(z) for z in g.zones) or g.body.get("outpostARN")]
        if not edge:
            return
        region = [g for g in groups if g not in edge]
        total = sum(int(g.body.get("minSize", g.body.get("desiredCapacity", 0)) or 0) for g in region)
        if total < 2:
            cfg = groups[0].config
            yield ctx.finding(
                self,
                cfg,
                f"{len(edge)} edge node group(s) but only {total} Region "
                "node(s) guaranteed (minSize/desiredCapacity of Region node groups)",
                path=(region[0].path if region else ("nodeGroups",)),
            )
