"""EW112: one node group spanning two Outposts."""

from __future__ import annotations

from collections.abc import Iterator

from ...spec import ZoneType
from ..model import CheckContext, Finding, Rule, Severity
from ._common import SEED_OP, asg_zones, eksctl_node_groups, zone_kind


class NodeGroupSpansOutposts(Rule):
    id = "EW112"
    name = "nodegroup-spans-outposts"
    severity = Severity.ERROR
    summary = "Create one self-managed node group per Outpost subnet, never one across Outposts."
    rationale = (
        f"{SEED_OP}: 'creating a fault isolation boundary it is recommended to create a "
        "self-managed node group per subnet'; an Auto Scaling group across racks cannot "
        "keep capacity per fault domain."
    )
    fix = "split the node group: one per Outpost subnet"

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        for ng in eksctl_node_groups(ctx):
            ops = sorted({z for z in ng.zones if zone_kind(ctx, z) is ZoneType.OUTPOST})
            if len(ops) > 1:
                yield ctx.finding(
                    self, ng.config, f"node group {ng.name!r} spans Outposts {', '.join(ops)}", path=ng.path
                )
        for tpl in ctx.cfn_templates:
            for lid, props in tpl.of_type("AWS::AutoScaling::AutoScalingGroup"):
                ops = sorted({z for z in asg_zones(ctx, tpl, props) if zone_kind(ctx, z) is ZoneType.OUTPOST})
                if len(ops) > 1:
                    yield ctx.cfn_finding(
                        self,
                        tpl,
                        lid,
                        f"Auto Scaling group spans Outposts {', '.join(ops)}",
                        "Properties",
                        "VPCZoneIdentifier",
                    )
