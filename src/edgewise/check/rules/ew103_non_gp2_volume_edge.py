"""EW103: an EBS volume type other than gp2 in a Wavelength Zone or on an Outpost."""

from __future__ import annotations

from collections.abc import Iterator

from ...spec import ZoneType
from ..model import CheckContext, Finding, Rule, Severity
from ._common import (
    SEED_OP,
    SEED_WLZ,
    asg_launch_template,
    asg_zones,
    eksctl_node_groups,
    m,
    seq,
    zone_kind,
)

GP2_ONLY = (ZoneType.WAVELENGTH, ZoneType.OUTPOST)


class NonGp2VolumeEdge(Rule):
    id = "EW103"
    name = "non-gp2-volume-edge"
    severity = Severity.ERROR
    summary = "Wavelength Zones and Outposts support gp2 EBS volumes only."
    rationale = (
        f"{SEED_WLZ}: 'The config must also explicitly define the volume type as "
        "volumeType: gp2, as only General Purpose SSD (gp2) volumes are supported in AWS "
        f"Wavelength'; {SEED_OP} sets volumeType: gp2 on every Outpost node group. "
        "eksctl's default is gp3."
    )
    fix = "set volumeType: gp2 (eksctl) / VolumeType: gp2 (launch template)"

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        for ng in eksctl_node_groups(ctx):
            kinds = {zone_kind(ctx, z) for z in ng.zones}
            if ng.body.get("outpostARN"):
                kinds.add(ZoneType.OUTPOST)
            vt = str(ng.body.get("volumeType") or "gp3 (eksctl default)")
            if kinds & set(GP2_ONLY) and not vt.startswith("gp2"):
                yield ctx.finding(
                    self,
                    ng.config,
                    f"node group {ng.name!r} runs in a Wavelength Zone/Outpost with volumeType {vt}",
                    path=(*ng.path, "volumeType"),
                )
        for tpl in ctx.cfn_templates:
            for lid, props in tpl.of_type("AWS::AutoScaling::AutoScalingGroup"):
                if not any(zone_kind(ctx, z) in GP2_ONLY for z in asg_zones(ctx, tpl, props)):
                    continue
                found = asg_launch_template(tpl, props)
                if found is None:
                    continue
                lt_id, data = found
                for j, bdm in enumerate(seq(data.get("BlockDeviceMappings"))):
                    ebs = m(m(bdm).get("Ebs"))
                    vt = str(ebs.get("VolumeType") or "gp2")
                    if vt != "gp2":
                        yield ctx.cfn_finding(
                            self,
                            tpl,
                            lt_id,
                            f"launch template of ASG {lid} (Wavelength/Outpost subnets) uses VolumeType {vt}",
                            "Properties",
                            "LaunchTemplateData",
                            "BlockDeviceMappings",
                            j,
                        )
