"""EW204: a single replica in an edge zone with nothing to fail over to."""

from __future__ import annotations

from collections.abc import Iterator

from ...routing import Caller
from ..model import CheckContext, Finding, Rule, Severity
from ._common import SEED_LZ, ingress_backends


class SingleReplicaNoFailover(Rule):
    id = "EW204"
    name = "single-replica-no-failover"
    severity = Severity.WARNING
    summary = "One replica in an edge zone and no failover: one pod restart is an outage there."
    rationale = (
        f"{SEED_LZ}: a failover resolver sends traffic to the Region 'when the zone's "
        "copy is gone'; without it a single edge replica is a single point of failure."
    )
    fix = "run >= 2 replicas per edge zone, or add a failover to the Region copy"

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        r = ctx.resolver
        if r is None:
            return
        # entry services behind a per-zone Ingress fail over north-south (Route 53 health
        # checks between the zones' ALBs), not through a mesh resolver
        exposed = {(ing.namespace, name) for ing in ctx.of_kind("Ingress") for name, _ in ingress_backends(ing)}
        for w in ctx.inventory.workloads():
            if w.kind in ("DaemonSet", "Job") or w.replicas > 1 or len(w.zones) != 1:
                continue
            if any((s.namespace, s.name) in exposed for s in ctx.inventory.services_of(w)):
                continue
            zone = w.zones[0]
            if not ctx.is_edge(zone):
                continue
            me = Caller(zone, w.namespace, w.name)
            if w.connect_injected:
                res = [
                    r.resolve(
                        me,
                        f"{ctx.inventory.consul_name(w)}.{w.namespace}"
                        if ctx.consul_mirroring()
                        else ctx.inventory.consul_name(w),
                        via="consul",
                    )
                ]
            else:
                res = [r.resolve(me, s.name) for s in ctx.inventory.services_of(w)]
            if not res:
                continue
            if not any(len(x.tiers) > 1 and any(t.endpoints for t in x.tiers[1:]) for x in res):
                yield ctx.finding(
                    self,
                    w.obj,
                    f"{w.kind} {w.name} has one replica in edge zone {zone} and no failover tier",
                    path=("spec", "replicas"),
                )
