"""EW405: an internet-facing ALB Ingress on a subnet the network template routes via NAT."""

from __future__ import annotations

from collections.abc import Iterator

from ..model import CheckContext, Finding, Rule, Severity
from ._common import (
    ALB_SCHEME,
    ALB_SUBNETS,
    SEED_LZ,
    alb_subnets,
    cfn_subnet_zone,
    cfn_subnets_by_name,
    is_alb,
)

COIP = "alb.ingress.kubernetes.io/customer-owned-ipv4-pool"


class InternetAlbBehindNat(Rule):
    id = "EW405"
    name = "internet-alb-behind-nat"
    severity = Severity.ERROR
    summary = (
        "An internet-facing ALB must not be placed in a subnet whose default route is a NAT gateway, "
        "nor on an Outpost without a customer-owned IP pool."
    )
    rationale = (
        f"{SEED_LZ}: 'Local Zones are internet-accessible'; that access needs a public subnet. "
        "An internet-facing load balancer needs public subnets (0.0.0.0/0 to an internet "
        "gateway, Elastic Load Balancing user guide); a Local Zone subnet that sends "
        "0.0.0.0/0 to a Region NAT gateway gives the ALB no inbound path, so it is created "
        "but unreachable from the internet. An internet-facing ALB on an Outpost takes its "
        "addresses from the Outpost's customer-owned IP pool, named with the AWS Load Balancer "
        "Controller annotation alb.ingress.kubernetes.io/customer-owned-ipv4-pool "
        "(https://kubernetes-sigs.github.io/aws-load-balancer-controller/latest/guide/ingress/"
        "annotations/#customer-owned-ipv4-pool; ELB user guide, 'Application Load Balancers on "
        "AWS Outposts'); without one it has no address outside the VPC. Wavelength subnets "
        "route to the carrier gateway and are not judged here."
    )
    fix = (
        f"name a public subnet of that zone in {ALB_SUBNETS} (one whose route table sends "
        "0.0.0.0/0 to the internet gateway); on an Outpost add "
        f"{COIP} (edgewise: customerOwnedIpv4Pool on the zone); or make the ALB internal"
    )

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        by_name = cfn_subnets_by_name(ctx)
        if not by_name:
            return
        for ing in ctx.of_kind("Ingress"):
            if not is_alb(ing) or ing.annotations.get(ALB_SCHEME) != "internet-facing":
                continue
            for name in alb_subnets(ing):
                sub = by_name.get(name)
                if sub is None:
                    continue
                if sub.props.get("OutpostArn"):
                    if not ing.annotations.get(COIP):
                        zone = cfn_subnet_zone(ctx, sub.tpl, {"Ref": sub.logical_id}) or "?"
                        yield ctx.finding(
                            self,
                            ing,
                            f"internet-facing ALB Ingress {ing.namespace}/{ing.name} is on Outpost subnet "
                            f"{name} ({zone}) without {COIP}: it gets no address outside the VPC",
                            path=("metadata", "annotations"),
                        )
                    continue
                route = sub.default_route
                if route is None or "NatGatewayId" not in route:
                    continue
                zone = cfn_subnet_zone(ctx, sub.tpl, {"Ref": sub.logical_id}) or "?"
                yield ctx.finding(
                    self,
                    ing,
                    f"internet-facing ALB Ingress {ing.namespace}/{ing.name} names subnet {name} "
                    f"({sub.logical_id} in {zone}), whose default route goes to a NAT gateway: "
                    "the ALB is not reachable from the internet",
                    path=("metadata", "annotations"),
                )
