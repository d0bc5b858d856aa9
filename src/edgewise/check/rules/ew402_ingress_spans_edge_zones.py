"""EW402: one ALB across several edge zones or Outposts."""

from __future__ import annotations

from collections.abc import Iterator

from ..model import CheckContext, Finding, Rule, Severity
from ._common import ALB_SUBNETS, SEED_OP, SEED_WLZ, backend_zones, cfn_subnets_by_name, ingress_subnet_zones, is_alb


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
        by_name = cfn_subnets_by_name(ctx)
        for ing in ctx.of_kind("Ingress"):
            if not is_alb(ing):
                continue
            backends = set(ctx.edge_zones_of(backend_zones(ctx, ing)))
            named = {z for z in ingress_subnet_zones(ctx, ing, by_name) if ctx.is_edge(z) or z.startswith("outpost:")}
            if len(named) > 1:
                yield ctx.finding(
                    self,
                    ing,
                    f"ALB Ingress {ing.namespace}/{ing.name} names subnets in edge zones {', '.join(sorted(named))}",
                    path=("metadata", "annotations", ALB_SUBNETS),
                )
            elif len(backends) > 1:
                # one subnet named (or none): EW406 reports a subnet of another zone than the backends
                yield ctx.finding(
                    self,
                    ing,
                    f"ALB Ingress {ing.namespace}/{ing.name} spans edge zones {', '.join(sorted(backends))}: "
                    "its backends run in all of them",
                    path=("spec",),
                )
