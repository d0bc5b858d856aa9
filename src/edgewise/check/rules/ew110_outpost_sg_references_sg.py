"""EW110: security group rules on Outposts that reference security groups, not CIDRs."""

from __future__ import annotations

from collections.abc import Iterator

from ...spec import ZoneType
from ..model import CheckContext, Finding, Rule, Severity
from ._common import SEED_OP, m, seq

SG_KEYS = ("SourceSecurityGroupId", "SourceSecurityGroupName", "DestinationSecurityGroupId")


class OutpostSgReferencesSg(Rule):
    id = "EW110"
    name = "outpost-sg-references-sg"
    severity = Severity.ERROR
    summary = "With Outposts, node security group rules must use CIDRs, not security group IDs."
    rationale = (
        f"{SEED_OP}: 'for controlling inter-node communication you will need to use IP "
        "addresses in the security groups rules as security group metadata is not carried "
        "across a customer network'."
    )
    fix = "replace the security group reference with CidrIp of the Outpost/Region subnets"

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        outposts = ctx.has_kind(ZoneType.OUTPOST) or any(
            props.get("OutpostArn") for tpl in ctx.cfn_templates for _, props in tpl.of_type("AWS::EC2::Subnet")
        )
        if not outposts:
            return
        for tpl in ctx.cfn_templates:
            for lid, props in tpl.of_type("AWS::EC2::SecurityGroupIngress", "AWS::EC2::SecurityGroupEgress"):
                for k in SG_KEYS:
                    if k in props:
                        yield ctx.cfn_finding(
                            self,
                            tpl,
                            lid,
                            f"rule uses {k}; security group "
                            "metadata is not carried over the Outposts' "
                            "customer network",
                            "Properties",
                            k,
                        )
            for lid, props in tpl.of_type("AWS::EC2::SecurityGroup"):
                for field in ("SecurityGroupIngress", "SecurityGroupEgress"):
                    for j, rule in enumerate(seq(props.get(field))):
                        for k in SG_KEYS:
                            if k in m(rule):
                                yield ctx.cfn_finding(
                                    self,
                                    tpl,
                                    lid,
                                    f"{field}[{j}] uses {k}; use a CIDR on Outposts",
                                    "Properties",
                                    field,
                                    j,
                                )
