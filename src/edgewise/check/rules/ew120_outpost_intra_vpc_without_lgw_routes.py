"""EW120: outpostIntraVpc claimed, but the Outpost subnets have no routes over the local gateway."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from ..model import CfnTemplate, CheckContext, Finding, Rule, Severity
from ._common import SEED_OP, ref_name


class OutpostIntraVpcWithoutLgwRoutes(Rule):
    id = "EW120"
    name = "outpost-intra-vpc-without-lgw-routes"
    severity = Severity.ERROR
    summary = "Outposts reach each other only over local gateway routes between their subnets."
    rationale = (
        f"{SEED_OP}: 'The route tables for the subnets on the AWS Outposts route traffic destined "
        "between the subnets over the AWS Outposts LGW', the VPC is 'associated to the Local "
        "Gateway Route Table', and 'traffic between subnets in the same VPC but on different AWS "
        "Outposts cannot hairpin through the region'. Without those routes the Outposts cannot "
        "reach each other, whatever outpostIntraVpc says "
        "(https://docs.aws.amazon.com/vpc/latest/userguide/route-table-options.html#route-tables-lgw)."
    )
    fix = (
        "in each Outpost subnet's route table add a route for every other Outpost subnet's CIDR with "
        "LocalGatewayId: <its local gateway>, and associate the VPC with the local gateway route table "
        "(AWS::EC2::LocalGatewayRouteTableVPCAssociation)"
    )

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        topo = ctx.topology
        if topo is None or not topo.outpost_intra_vpc:
            return
        # the subnets, route tables and routes may be spread over several templates (a
        # network split into stacks), tied together by exports and Fn::ImportValue
        subnets: dict[tuple[int, str], tuple[CfnTemplate, Mapping[str, Any]]] = {}
        table_of: dict[tuple[int, str], tuple[int, str]] = {}
        lgw_routes: dict[tuple[int, str], set[Any]] = {}
        associated = False
        for tpl in ctx.cfn_templates:
            for lid, p in tpl.of_type("AWS::EC2::Subnet"):
                if p.get("OutpostArn"):
                    subnets[(id(tpl), lid)] = (tpl, p)
            for _, p in tpl.of_type("AWS::EC2::SubnetRouteTableAssociation"):
                sub = ref_name(p.get("SubnetId"))
                there, value = ctx.cfn_resolve(tpl, p.get("RouteTableId"))
                rt = ref_name(value)
                if sub and rt:
                    table_of[(id(tpl), sub)] = (id(there), rt)
            for _, p in tpl.of_type("AWS::EC2::Route"):
                there, value = ctx.cfn_resolve(tpl, p.get("RouteTableId"))
                rt = ref_name(value)
                if rt and p.get("LocalGatewayId"):
                    lgw_routes.setdefault((id(there), rt), set()).add(p.get("DestinationCidrBlock"))
            associated = associated or any(
                True for _ in tpl.of_type("AWS::EC2::LocalGatewayRouteTableVPCAssociation"))
        if len(subnets) < 2:
            return
        for key, (tpl, p) in subnets.items():
            lid = key[1]
            others = {o.get("CidrBlock") for k, (_, o) in subnets.items()
                      if k != key and o.get("OutpostArn") != p.get("OutpostArn")}
            table = table_of.get(key)
            missing = sorted(str(c) for c in others - (lgw_routes.get(table, set()) if table else set()))
            if missing:
                yield ctx.cfn_finding(
                    self, tpl, lid,
                    f"outpostIntraVpc, but Outpost subnet {lid} has no local gateway route to "
                    + ", ".join(missing),
                    "Properties",
                )
            elif not associated:
                yield ctx.cfn_finding(
                    self, tpl, lid, "outpostIntraVpc, but the VPC is not associated with a local gateway "
                    "route table in these templates", "Properties",
                )
