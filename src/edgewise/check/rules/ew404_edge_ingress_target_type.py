"""EW404: an edge ALB Ingress without target-type ip."""

from __future__ import annotations

from collections.abc import Iterator

from ..model import CheckContext, Finding, Rule, Severity
from ._common import SEED_WLZ, backend_zones, is_alb

TARGET_TYPE = "alb.ingress.kubernetes.io/target-type"


class EdgeIngressTargetType(Rule):
    id = "EW404"
    name = "edge-ingress-target-type"
    severity = Severity.WARNING
    summary = "Edge ALB Ingresses should use target-type: ip (instance mode hops via any node)."
    rationale = (
        f"{SEED_WLZ}: the edge Ingress sets 'alb.ingress.kubernetes.io/target-type: ip'; "
        "with instance targets traffic enters a NodePort on any registered node and "
        "kube-proxy forwards it, possibly to another zone."
    )
    fix = f"set {TARGET_TYPE}: ip"

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        for ing in ctx.of_kind("Ingress"):
            if not is_alb(ing) or ing.annotations.get(TARGET_TYPE) == "ip":
                continue
            if ctx.edge_zones_of(backend_zones(ctx, ing)):
                yield ctx.finding(
                    self,
                    ing,
                    f"edge ALB Ingress {ing.namespace}/{ing.name} uses "
                    f"target-type {ing.annotations.get(TARGET_TYPE, 'instance')}",
                    path=("metadata", "annotations"),
                )
