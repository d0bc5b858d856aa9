"""EW305: an edge zone's copy of a service has no failover to the Region."""

from __future__ import annotations

from collections.abc import Iterator

from ..model import CheckContext, Finding, Rule, Severity
from ._common import SEED_LZ, caller_object, shorten


class EdgeServiceNoRegionFailover(Rule):
    id = "EW305"
    name = "edge-service-no-region-failover"
    severity = Severity.WARNING
    summary = "A call served only by the caller's edge zone has no failover tier in the Region."
    rationale = (
        f"{SEED_LZ}: a ServiceResolver with failover sends traffic to the Region copy "
        "'when the zone's copy is gone'; the namespace-per-zone pattern alone 'has no "
        "failover' (DESIGN §1)."
    )
    fix = (
        "add a failover to the Region copy (Consul ServiceResolver failover, Istio "
        "failoverPriority over zone + Region pods; without a mesh, a selectorless Service "
        "whose endpoints the edgewise controller keeps: routing kubernetes)"
    )

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        if ctx.topology is None:
            return
        for group in ctx.call_groups.values():
            zones = []
            for rc in group:
                res, here = rc.resolution, rc.caller.zone
                if not ctx.is_edge(here) or not res.tiers or not res.tiers[0].endpoints:
                    continue
                if {e.zone for e in res.tiers[0].endpoints} != {here}:
                    continue
                later = [e for t in res.tiers[1:] for e in t.endpoints]
                if any(e.zone != here and ctx.is_edge(e.zone) for e in later):
                    continue  # a failover into another edge zone: EW306 reports that
                if not any(not ctx.is_edge(e.zone) for e in later):
                    zones.append(here)
            if zones:
                rc = group[0]
                yield ctx.finding(
                    self,
                    caller_object(ctx, rc),
                    (
                        f"calls to {rc.call.name!r} ({rc.call.evidence}) are served only in the "
                        f"caller's own edge zone ({', '.join(shorten(sorted(zones), 5))}) with no Region "
                        "failover: when that copy is down the call fails"
                    ),
                    path=rc.call.path,
                )
