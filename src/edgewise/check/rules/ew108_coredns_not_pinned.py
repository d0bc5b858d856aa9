"""EW108: CoreDNS can be scheduled outside the Region."""

from __future__ import annotations

from collections.abc import Iterator

from ..model import CheckContext, Finding, Rule, Severity
from ._common import SEED_WLZ, is_coredns


class CoreDnsNotPinned(Rule):
    id = "EW108"
    name = "coredns-not-pinned"
    severity = Severity.ERROR
    summary = "CoreDNS must be pinned to Region nodes (nodeSelector/affinity), never at the edge."
    rationale = (
        f"{SEED_WLZ}: 'core-dns pods could be scheduled to the Wavelength Zone subnets. "
        "In this scenario, a service running in an AWS Wavelength Zone ... may query a "
        "core-dns pod in another Wavelength Zone' and fail; 'ensure that all core-dns "
        "pods in the kube-system namespace are scheduled to the Parent Region'."
    )
    fix = (
        'patch the coredns Deployment: nodeSelector edgewise.dev/parent-region: "true" '
        "(a label only Region nodes carry)"
    )

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        if not ctx.has_edge:
            return
        for w in ctx.inventory.workloads_in("kube-system"):
            if not is_coredns(w):
                continue
            # judge the node selection alone: taints are not a pin (a toleration or an
            # untainted node group opens the edge again)
            edge = ctx.edge_zones_of(ctx.zones_ignoring_taints(w))
            if edge:
                yield ctx.finding(
                    self,
                    w.obj,
                    f"CoreDNS ({w.kind} {w.name}) is not pinned to the "
                    f"Region: its node selection also matches edge zones "
                    f"{', '.join(edge)}",
                    path=w.pod_path,
                )
