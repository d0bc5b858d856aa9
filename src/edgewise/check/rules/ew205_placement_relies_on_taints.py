"""EW205: a workload kept off the edge only by the edge taint."""

from __future__ import annotations

from collections.abc import Iterator

from ..model import CheckContext, Finding, Rule, Severity
from ._common import SEED_LZ


class PlacementReliesOnTaints(Rule):
    id = "EW205"
    name = "placement-relies-on-taints"
    severity = Severity.INFO
    summary = "A workload with no node selection is kept out of edge zones only by their taint."
    rationale = (
        f"{SEED_LZ}: the developer must 'create and maintain taints, affinities, and tolerations "
        "for each service'. On a cluster whose edge nodes are not tainted (the blog's own eksctl "
        "cluster) the same manifest scatters its replicas over edge zones that cannot reach "
        "each other; an explicit Region pin keeps it right on any cluster."
    )
    fix = "pin it: nodeSelector edgewise.dev/role: region (or per-zone node affinity at the edge)"

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        if not ctx.has_edge or not ctx.edge_taints:
            return
        for w in ctx.inventory.workloads():
            if w.kind == "DaemonSet" or w.pinned or ctx.edge_zones_of(w.zones):
                continue
            edge = ctx.edge_zones_of(ctx.zones_ignoring_taints(w))
            if len(edge) >= 2:
                yield ctx.finding(
                    self,
                    w.obj,
                    f"{w.kind} {w.name} runs only in the Region because edge nodes are tainted; "
                    f"without the taint it could land in {', '.join(edge)}",
                    path=w.pod_path,
                )
