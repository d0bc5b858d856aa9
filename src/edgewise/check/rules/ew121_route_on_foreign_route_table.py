"""EW121: routes added to route tables the template does not own."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..model import CfnTemplate, CheckContext, Finding, Rule, Severity
from ._common import m, ref_name, seq


class RouteOnForeignRouteTable(Rule):
    id = "EW121"
    name = "route-on-foreign-route-table"
    severity = Severity.WARNING
    summary = "Add routes only to route tables the template creates, never to an existing VPC's tables."
    rationale = (
        "A route (AWS::EC2::Route, or a gateway endpoint's RouteTableIds) on a route table the "
        "stack does not create changes the routing of subnets it does not know, and deleting the "
        "stack removes routes other workloads may rely on "
        "(https://docs.aws.amazon.com/vpc/latest/privatelink/gateway-endpoints.html: a gateway "
        "endpoint adds a route to every route table it is associated with). An existing VPC's "
        "route tables stay as they are; the plan states what they must provide. A table that "
        "another of the templates creates and exports (`Fn::ImportValue`, as in a network split "
        "into stacks) is created by the deployment, not foreign."
    )
    fix = "create the route table in the template and associate your subnets with it, or leave the route to the owner"

    def _foreign(self, ctx: CheckContext, tpl: CfnTemplate, owned: set[str], value: Any) -> bool:
        there, value = ctx.cfn_resolve(tpl, value)
        name = ref_name(value)
        if name is not None:
            if there is not tpl:  # exported by another template: a table it creates?
                return m(there.resources.get(name)).get("Type") != "AWS::EC2::RouteTable"
            return name not in owned  # a parameter: a table passed in from outside
        return isinstance(value, str) and value.startswith("rtb-")

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        for tpl in ctx.cfn_templates:
            owned = {lid for lid, _ in tpl.of_type("AWS::EC2::RouteTable")}
            for lid, p in tpl.of_type("AWS::EC2::Route"):
                if self._foreign(ctx, tpl, owned, p.get("RouteTableId")):
                    yield ctx.cfn_finding(self, tpl, lid, "route on a route table this template does not create",
                                          "Properties", "RouteTableId")
            for lid, p in tpl.of_type("AWS::EC2::VPCEndpoint"):
                tables = p.get("RouteTableIds")
                items = seq(tables) if isinstance(tables, list) else [tables] if tables is not None else []
                if any(self._foreign(ctx, tpl, owned, t) or (m(t) and ref_name(ctx.cfn_resolve(tpl, t)[1]) is None)
                       for t in items):
                    yield ctx.cfn_finding(self, tpl, lid,
                                          "gateway endpoint routes on route tables this template does not create",
                                          "Properties", "RouteTableIds")
