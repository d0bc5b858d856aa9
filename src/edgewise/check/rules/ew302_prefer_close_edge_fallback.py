"""EW302: topology-aware routing whose cluster-wide fallback reaches other edge zones."""

from __future__ import annotations

from collections.abc import Iterator

from ...routing import Caller
from ..model import CheckContext, Finding, Rule, Severity
from ._common import describe, entry_services, unreachable


class PreferCloseEdgeFallback(Rule):
    id = "EW302"
    name = "prefer-close-edge-fallback"
    severity = Severity.ERROR
    summary = (
        "trafficDistribution PreferClose/PreferSameZone or topology-mode Auto over edge "
        "endpoints: the cluster-wide fallback reaches unreachable edge zones."
    )
    rationale = (
        "Kubernetes docs, 'Traffic distribution' and 'Topology Aware Routing': when a "
        "zone has no ready local endpoint kube-proxy falls back to all endpoints "
        "cluster-wide, including sibling edge zones that the hub-and-spoke edge network "
        "cannot reach (DESIGN §2)."
    )
    fix = (
        "select only the zone's and the Region's pods in that zone's Service, or use "
        "internalTrafficPolicy/mesh failover that names the Region explicitly"
    )

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        if ctx.resolver is None:
            return
        entry = entry_services(ctx)
        for svc in ctx.inventory.services():
            if not svc.prefers_zone:
                continue
            if (svc.namespace, svc.name) in entry and not ctx.resolver.callers_of(svc.namespace, svc.name):
                continue  # reached from a load balancer, not through kube-proxy's fallback
            zones = sorted({z for w in ctx.inventory.select(svc) for z in w.zones})
            pairs = {}
            for z in zones:
                res = ctx.resolver.resolve(Caller(z, svc.namespace, ""), svc.name)
                for tier in res.tiers:
                    if tier.mechanism == "topology-hints-fallback":
                        bad = unreachable(ctx, z, tier.endpoints)
                        if bad:
                            pairs[z] = bad
            if pairs:
                path = ("spec", "trafficDistribution") if svc.traffic_distribution else ("metadata", "annotations")
                yield ctx.finding(
                    self,
                    svc.obj,
                    (
                        f"Service {svc.namespace}/{svc.name} prefers same-zone endpoints, but when a "
                        f"zone's own pods are down kube-proxy falls back cluster-wide: {describe(pairs)}"
                    ),
                    path=path,
                )
