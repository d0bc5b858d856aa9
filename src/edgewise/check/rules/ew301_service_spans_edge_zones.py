"""EW301: a call can land on pods in an edge zone the caller cannot reach."""

from __future__ import annotations

from collections.abc import Iterator

from ...routing import Caller
from ..model import CheckContext, Finding, Rule, Severity
from ._common import (
    SEED_LZ,
    any_reachable,
    caller_object,
    describe,
    entry_services,
    is_coredns,
    unreachable,
)

#: tiers judged by other rules (fallback: EW302, failover/redirect targets: EW306)
OTHER_RULES = frozenset({"topology-hints-fallback", "consul-failover", "consul-redirect"})


class ServiceSpansEdgeZones(Rule):
    id = "EW301"
    name = "service-spans-edge-zones"
    severity = Severity.ERROR
    summary = "A call's endpoints include pods in edge zones the caller cannot reach."
    rationale = (
        f"{SEED_LZ}: 'DNS could also try to direct this traffic to app pods on Local "
        "Zone 1 or Local Zone 2, which would result in an unreachable endpoint.' "
        "kube-proxy picks any Ready endpoint; edge zones reach only themselves and the "
        "parent Region."
    )
    fix = (
        "give each edge zone its own copy (per-zone Service/namespace or mesh service) that "
        "selects only that zone's pods plus the Region's"
    )

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        if ctx.topology is None or ctx.resolver is None:
            return
        called: set[str] = set()
        for group in ctx.call_groups.values():
            pairs: dict[str, list[str]] = {}
            mech = ""
            for rc in group:
                res = rc.resolution
                if res.service is not None:
                    called.add(f"{res.service.namespace}/{res.service.name}")
                if not res.found or not any_reachable(ctx, rc.caller.zone, res):
                    continue
                for tier in res.tiers:
                    if tier.mechanism in OTHER_RULES:
                        continue
                    bad = unreachable(ctx, rc.caller.zone, tier.endpoints)
                    if bad:
                        pairs[rc.caller.zone] = bad
                        mech = tier.mechanism
                        break
            if pairs:
                rc = group[0]
                yield ctx.finding(
                    self,
                    caller_object(ctx, rc),
                    (
                        f"calls to {rc.call.name!r} ({rc.call.evidence}) resolve to {rc.resolution.target} "
                        f"and can land ({mech}) on pods the caller cannot reach: {describe(pairs)}"
                    ),
                    path=rc.call.path,
                )
        # Services nobody is known to call: judge from the zones their own pods run in, as
        # if a client sat next to them, every tier (a later one is a failover). Entry
        # Services are called from outside (load balancer, Ingress): not east-west.
        entry = entry_services(ctx)
        for svc in ctx.inventory.services():
            target = f"{svc.namespace}/{svc.name}"
            if target in called or (svc.namespace, svc.name) in entry:
                continue
            if any(is_coredns(w) for w in ctx.inventory.select(svc)):
                continue  # the cluster DNS: EW108 reports CoreDNS outside the Region
            zones = sorted({z for w in ctx.inventory.select(svc) for z in w.zones})
            pairs = {}
            for z in ctx.edge_zones_of(zones):
                res = ctx.resolver.resolve(Caller(z, svc.namespace, ""), svc.name)
                for tier in res.tiers:
                    if tier.mechanism in OTHER_RULES:
                        continue
                    bad = unreachable(ctx, z, tier.endpoints)
                    if bad:
                        pairs[z] = bad
                        mech = tier.mechanism
                        break
            if pairs:
                yield ctx.finding(
                    self,
                    svc.obj,
                    (
                        f"Service {target} selects pods in zones that cannot reach each other; a "
                        f"client next to its pods can land ({mech}) on unreachable ones: {describe(pairs)}"
                    ),
                    path=("spec", "selector"),
                )
