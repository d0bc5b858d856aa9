"""EW102: a managed node group (or Fargate) in a Wavelength Zone or on an Outpost."""

from __future__ import annotations

from collections.abc import Iterator

from ...spec import ZoneType
from ..model import CheckContext, Finding, Rule, Severity
from ._common import SEED_WLZ, cfn_subnet_zone, eksctl_node_groups, m, seq, zone_kind

UNSUPPORTED = (ZoneType.WAVELENGTH, ZoneType.OUTPOST, ZoneType.LOCAL)


class ManagedNodeGroupEdge(Rule):
    id = "EW102"
    name = "managed-nodegroup-edge"
    severity = Severity.ERROR
    summary = "Edge zones take self-managed node groups only: no managed node groups, no Fargate."
    rationale = (
        f"{SEED_WLZ}: 'Amazon EKS on AWS Wavelength doesn't support managed node groups "
        "or AWS Fargate'; eksctl supports Local Zones with self-managed node groups only, "
        "and Outposts extended clusters likewise."
    )
    fix = "use a self-managed node group (eksctl nodeGroups, or a launch template + ASG)"

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        for ng in eksctl_node_groups(ctx):
            if not ng.managed:
                continue
            edge = [z for z in ng.zones if zone_kind(ctx, z) in UNSUPPORTED]
            if edge or ng.body.get("outpostARN"):
                yield ctx.finding(
                    self,
                    ng.config,
                    f"managed node group {ng.name!r} is placed in edge zone(s) {', '.join(edge) or 'on an Outpost'}",
                    path=ng.path,
                )
        for tpl in ctx.cfn_templates:
            for lid, props in tpl.of_type("AWS::EKS::Nodegroup", "AWS::EKS::FargateProfile"):
                for j, ref in enumerate(seq(props.get("Subnets"))):
                    zone = cfn_subnet_zone(ctx, tpl, ref)
                    if zone_kind(ctx, zone) in UNSUPPORTED:
                        kind = m(tpl.resources.get(lid)).get("Type")
                        yield ctx.cfn_finding(
                            self, tpl, lid, f"{kind} uses subnet {ref} in edge zone {zone}", "Properties", "Subnets", j
                        )
