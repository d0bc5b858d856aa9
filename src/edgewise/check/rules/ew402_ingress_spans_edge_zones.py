"""EW402: one ALB across several edge zones or Outposts."""

from __future__ import annotations

from collections.abc import Iterator

from ..model import CheckContext, Finding, Rule, Severity
from ._common import ALB_SUBNETS, SEED_OP, SEED_WLZ, backend_zones, is_alb


class IngressSpansEdgeZones(Rule):
    id = "EW402"
    name = "ingress-spans-edge-zones"
    severity = Severity.ERROR
    summary = "An ALB cannot span edge zones or Outposts: one Ingress per edge zone."
    rationale = (
        f"{SEED_WLZ}: one ALB per Wavelength Zone, spread by Route 53; {SEED_OP}: 'a "
        "single AWS Application Load Balancers cannot be deployed across multiple' "
        "Outposts. Cross-zone load balancing across edge zones is not supported."
    )
    fix = "split into one Ingress per edge zone, each with that zone's subnet and backends"

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        topo = ctx.topology
        for ing in ctx.of_kind("Ingress"):
            if not is_alb(ing):
                continue
            zones: set[str] = set(ctx.edge_zones_of(backend_zones(ctx, ing)))
            subnets = [s.strip() for s in ing.annotations.get(ALB_SUBNETS, "").split(",") if s.strip()]
            if topo is not None:
                for z in topo.edge_zones:
                    if z.subnet_id in subnets or z.name in subnets:
                        zones.add(z.name)
            if len(zones) > 1:
                yield ctx.finding(
                    self,
                    ing,
                    f"ALB Ingress {ing.namespace}/{ing.name} spans edge zones {', '.join(sorted(zones))}",
                    path=("spec",),
                )
