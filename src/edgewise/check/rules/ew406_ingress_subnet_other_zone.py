"""EW406: an ALB Ingress names the subnet of another zone than the one its backends run in."""

from __future__ import annotations

from collections.abc import Iterator

from ..model import CheckContext, Finding, Rule, Severity
from ._common import ALB_SUBNETS, SEED_WLZ, backend_zones, cfn_subnets_by_name, ingress_subnet_zones, is_alb


class IngressSubnetOtherZone(Rule):
    id = "EW406"
    name = "ingress-subnet-other-zone"
    severity = Severity.ERROR
    summary = "An ALB Ingress names a subnet of another zone than the edge zone its backends run in."
    rationale = (
        f"{SEED_WLZ}: each zone's Ingress names that zone's subnet "
        "('alb.ingress.kubernetes.io/subnets: <your-wavelength-subnet-id>'). The AWS Load "
        "Balancer Controller places the ALB in the subnets the annotation names "
        "(https://kubernetes-sigs.github.io/aws-load-balancer-controller/latest/guide/ingress/annotations/#subnets); "
        "an ALB in one edge zone cannot reach IP targets in another edge zone, and a "
        "copied per-zone Ingress that kept the first zone's subnet sends that zone's users "
        "to an ALB with no reachable target."
    )
    fix = f"set {ALB_SUBNETS} to the subnet of the zone the backends run in"

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        by_name = cfn_subnets_by_name(ctx)
        for ing in ctx.of_kind("Ingress"):
            if not is_alb(ing):
                continue
            named = ingress_subnet_zones(ctx, ing, by_name)
            edge_named = {z for z in named if ctx.is_edge(z) or z.startswith("outpost:")}
            backends = set(ctx.edge_zones_of(backend_zones(ctx, ing)))
            if not named or not backends or len(edge_named) > 1 or backends & named:
                continue  # nothing known, several edge subnets (EW402), or the right zone named
            yield ctx.finding(
                self,
                ing,
                f"ALB Ingress {ing.namespace}/{ing.name} names the subnet of {', '.join(sorted(named))} "
                f"but its backends run in {', '.join(sorted(backends))}",
                path=("metadata", "annotations", ALB_SUBNETS),
            )
