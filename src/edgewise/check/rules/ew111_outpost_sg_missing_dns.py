"""EW111: no CIDR rules for DNS (TCP and UDP 53) between Outpost node subnets."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from ...spec import ZoneType
from ..model import CheckContext, Finding, Rule, Severity
from ._common import SEED_OP, seq


def _covers53(rule: Mapping[str, Any], proto: str) -> bool:
    p = str(rule.get("IpProtocol", ""))
    if p not in (proto, "-1", "all", {"tcp": "6", "udp": "17"}[proto]):
        return False
    if not rule.get("CidrIp") and not rule.get("CidrIpv6"):
        return False
    if p in ("-1", "all"):
        return True
    try:
        return int(rule.get("FromPort", -1)) <= 53 <= int(rule.get("ToPort", -1))
    except (TypeError, ValueError):
        return False


class OutpostSgMissingDns(Rule):
    id = "EW111"
    name = "outpost-sg-missing-dns"
    severity = Severity.ERROR
    summary = "The shared node security group must allow DNS (TCP and UDP 53) by CIDR on Outposts."
    rationale = (
        f"{SEED_OP}: 'to enable Domain Name System (DNS) resolution from Pods in your "
        "cluster the security group must allow outbound and inbound communication over "
        "Transmission Control Protocol (TCP) and User Datagram Protocol (UDP) port 53'."
    )
    fix = "add ingress rules tcp/53 and udp/53 with CidrIp of each Outpost and Region subnet"

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        if not ctx.has_kind(ZoneType.OUTPOST):
            return
        for tpl in ctx.cfn_templates:
            groups = list(tpl.of_type("AWS::EC2::SecurityGroup"))
            if not groups:
                continue
            rules: list[Mapping[str, Any]] = []
            for _, props in groups:
                rules.extend(r for r in seq(props.get("SecurityGroupIngress")) if isinstance(r, Mapping))
            rules.extend(props for _, props in tpl.of_type("AWS::EC2::SecurityGroupIngress"))
            missing = [p for p in ("tcp", "udp") if not any(_covers53(r, p) for r in rules)]
            if missing:
                lid = groups[0][0]
                yield ctx.cfn_finding(
                    self,
                    tpl,
                    lid,
                    "no CIDR ingress rule for DNS over "
                    + " and ".join(f"{p}/53" for p in missing)
                    + " in this template's security groups",
                    "Properties",
                )
