"""EW401: an ALB Ingress for edge pods without a subnet annotation."""

from __future__ import annotations

from collections.abc import Iterator

from ..model import CheckContext, Finding, Rule, Severity
from ._common import ALB_SUBNETS, SEED_WLZ, backend_zones, is_alb


class EdgeIngressWithoutSubnets(Rule):
    id = "EW401"
    name = "edge-ingress-without-subnets"
    severity = Severity.ERROR
    summary = "An ALB Ingress serving edge pods must name that zone's subnet."
    rationale = (
        f"{SEED_WLZ}: the Ingress carries 'alb.ingress.kubernetes.io/subnets: "
        "<your-wavelength-subnet-id>'; without it the AWS Load Balancer Controller "
        "auto-discovers Region subnets and the ALB cannot reach edge pods by IP."
    )
    fix = f"add {ALB_SUBNETS}: <the edge zone's subnet id> (one Ingress per edge zone)"

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        for ing in ctx.of_kind("Ingress"):
            if not is_alb(ing) or ALB_SUBNETS in ing.annotations:
                continue
            edge = ctx.edge_zones_of(sorted(backend_zones(ctx, ing)))
            if edge:
                yield ctx.finding(
                    self,
                    ing,
                    f"ALB Ingress {ing.namespace}/{ing.name} serves pods "
                    f"in edge zone(s) {', '.join(edge)} but has no {ALB_SUBNETS}",
                    path=("metadata", "annotations"),
                )
