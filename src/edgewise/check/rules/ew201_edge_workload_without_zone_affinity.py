"""EW201: a workload that can be scheduled into several edge zones."""

from __future__ import annotations

from collections.abc import Iterator

from ..model import CheckContext, Finding, Rule, Severity
from ._common import SEED_LZ, is_coredns


class EdgeWorkloadWithoutZoneAffinity(Rule):
    id = "EW201"
    name = "edge-workload-without-zone-affinity"
    severity = Severity.WARNING
    summary = "An edge workload must be pinned to one edge zone by node affinity on the zone label."
    rationale = (
        f"{SEED_LZ}: 'workload placement is incredibly important ... one copy of each "
        "latency-sensitive service per edge zone, pinned by node affinity on "
        "topology.kubernetes.io/zone' (DESIGN §1). Unpinned replicas scatter over edge "
        "zones that cannot reach each other."
    )
    fix = "one Deployment per edge zone with required node affinity topology.kubernetes.io/zone In [<zone>]"

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        if ctx.topology is None:
            return
        for w in ctx.inventory.workloads():
            if w.kind == "DaemonSet" or is_coredns(w):
                continue  # node agents run everywhere by design; CoreDNS: EW108
            edge = ctx.edge_zones_of(w.zones)
            topo = ctx.topology
            # Outposts with intra-VPC communication reach each other: spreading over them
            # is the blog's own advice; only mutually unreachable edge zones are a problem
            apart = [(a, b) for i, a in enumerate(edge) for b in edge[i + 1 :] if not topo.reachable(a, b)]
            if apart:
                yield ctx.finding(
                    self,
                    w.obj,
                    f"{w.kind} {w.name} can be scheduled in {len(edge)} edge zones "
                    f"({', '.join(edge)}) that cannot all reach each other: {w.placement}",
                    path=w.pod_path,
                )
