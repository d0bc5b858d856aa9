"""EW113: node volumes not encrypted."""

from __future__ import annotations

from collections.abc import Iterator

from ..model import CheckContext, Finding, Rule, Severity
from ._common import SEED_OP, eksctl_node_groups, m, seq


class UnencryptedVolume(Rule):
    id = "EW113"
    name = "unencrypted-volume"
    severity = Severity.WARNING
    summary = "Node root volumes should be encrypted (edge hardware sits outside AWS data centres)."
    rationale = (
        f"{SEED_OP}: every Outpost node group sets 'volumeEncrypted: true'; edge racks "
        "and metro sites are physically outside the Region's data centres."
    )
    fix = "set volumeEncrypted: true (eksctl) / Ebs.Encrypted: true (launch template)"

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        for ng in eksctl_node_groups(ctx):
            if ng.body.get("volumeEncrypted") is not True:
                yield ctx.finding(self, ng.config, f"node group {ng.name!r} volumes are not encrypted", path=ng.path)
        for tpl in ctx.cfn_templates:
            for lid, props in tpl.of_type("AWS::EC2::LaunchTemplate"):
                data = m(props.get("LaunchTemplateData"))
                for j, bdm in enumerate(seq(data.get("BlockDeviceMappings"))):
                    ebs = m(m(bdm).get("Ebs"))
                    if ebs and ebs.get("Encrypted") is not True:
                        yield ctx.cfn_finding(
                            self,
                            tpl,
                            lid,
                            "launch template EBS volume is not encrypted",
                            "Properties",
                            "LaunchTemplateData",
                            "BlockDeviceMappings",
                            j,
                        )
