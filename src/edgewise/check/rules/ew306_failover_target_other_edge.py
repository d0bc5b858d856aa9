"""EW306: a failover or redirect target lives in another edge zone."""

from __future__ import annotations

from collections.abc import Iterator

from ...routing import Caller
from ..model import CheckContext, Finding, Rule, Severity
from ._common import SEED_LZ, describe, unreachable

TARGET_TIERS = frozenset({"consul-failover", "consul-redirect"})


class FailoverTargetOtherEdge(Rule):
    id = "EW306"
    name = "failover-target-other-edge"
    severity = Severity.ERROR
    summary = "A mesh failover/redirect or locality tier sends edge traffic to another edge zone."
    rationale = (
        f"{SEED_LZ}: the resolver's failover must name the Region ('failover: "
        '{"*": {service, namespace: <region>}}\'); edge zones never reach each other, '
        "so a target in another edge zone fails exactly when it is needed."
    )
    fix = "point redirect/failover at the Region copy of the service"

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        r = ctx.resolver
        if r is None:
            return
        mirroring = ctx.consul_mirroring()
        # callers of each Consul service, whatever name they used to reach it
        called_from: dict[str, set[str]] = {}
        for rc in ctx.routed_calls:
            called_from.setdefault(rc.resolution.target, set()).add(rc.caller.zone)
        # each resolver under the key the resolver itself files it (one source of truth)
        for cns, name, o in r.consul_resolvers():
            zones = {
                z
                for w in ctx.inventory.consul_instances(name)
                if not mirroring or w.namespace == cns
                for z in w.zones
            }
            zones |= {z for w in ctx.inventory.workloads_in(o.namespace) for z in w.zones}
            zones |= called_from.get(f"consul:{cns}/{name}", set())
            pairs: dict[str, list[str]] = {}
            field = "failover"
            for z in ctx.edge_zones_of(sorted(zones)):
                res = r.resolve(Caller(z, o.namespace, ""), f"{name}.{cns}", via="consul")
                for tier in res.tiers:
                    if tier.mechanism in TARGET_TIERS:
                        bad = unreachable(ctx, z, tier.endpoints)
                        if bad:
                            pairs.setdefault(z, []).extend(b for b in bad if b not in pairs.get(z, []))
                            field = "redirect" if tier.mechanism == "consul-redirect" else field
            if pairs:
                yield ctx.finding(
                    self,
                    o,
                    (
                        f"ServiceResolver {o.namespace}/{o.name} {field} target runs in edge zones "
                        f"its callers cannot reach: {describe(pairs)}"
                    ),
                    path=("spec", field),
                )
        seen: set[tuple[str, str, str]] = set()
        for rc in ctx.routed_calls:
            for tier in rc.resolution.tiers[1:]:
                if tier.mechanism != "istio-locality":
                    continue
                bad = unreachable(ctx, rc.caller.zone, tier.endpoints)
                key = (rc.resolution.target, rc.caller.zone, ",".join(bad))
                if bad and key not in seen:
                    seen.add(key)
                    dr = _dr_for(ctx, rc.resolution.target)
                    yield ctx.finding(
                        self,
                        dr,
                        (
                            f"Istio locality failover for {rc.resolution.target} sends callers in "
                            f"{rc.caller.zone} to {', '.join(bad)} (unreachable)"
                        ),
                        path=("spec", "trafficPolicy", "loadBalancer"),
                    )


def _dr_for(ctx: CheckContext, target: str):  # type: ignore[no-untyped-def]
    ns, _, name = target.partition("/")
    for o in ctx.of_kind("DestinationRule"):
        host = str(o.spec.get("host") or "")
        if host.split(".")[0] == name and (o.namespace == ns or f".{ns}" in host):
            return o
    return None
