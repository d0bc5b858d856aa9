"""EW106: private API endpoint without the EC2 interface endpoint or VPC DNS attributes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ...spec import ZoneType
from ..model import CheckContext, Finding, Rule, Severity
from ._common import SEED_WLZ


def _text(value: Any) -> str:
    return str(value)


class PrivateEndpointWithoutEc2Endpoint(Rule):
    id = "EW106"
    name = "private-endpoint-without-ec2-endpoint"
    severity = Severity.ERROR
    summary = (
        "Edge nodes with a private API endpoint need an EC2 interface VPC endpoint and "
        "enableDnsHostnames/enableDnsSupport on the VPC."
    )
    rationale = (
        f"{SEED_WLZ}: 'In the case that Private cluster access is enabled, AWS Wavelength "
        "nodes may still fail to register ... EC2 interface endpoints are needed', and "
        "'aws ec2 modify-vpc-attribute --enable-dns-hostnames / --enable-dns-support'."
    )
    fix = (
        "add AWS::EC2::VPCEndpoint com.amazonaws.<region>.ec2 (Interface, PrivateDnsEnabled) "
        "and EnableDnsHostnames/EnableDnsSupport: true on the VPC"
    )

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        topo = ctx.topology
        if topo is None or not topo.private_endpoint or not topo.edge_zones:
            return
        if not (ctx.has_kind(ZoneType.WAVELENGTH) or ctx.has_kind(ZoneType.OUTPOST) or ctx.has_kind(ZoneType.LOCAL)):
            return
        vpcs = [(tpl, lid, props) for tpl in ctx.cfn_templates for lid, props in tpl.of_type("AWS::EC2::VPC")]
        if not vpcs:
            return  # the VPC is not in these templates: nothing to judge
        has_ec2 = any(
            _text(props.get("ServiceName")).rstrip("'}\"").endswith(".ec2")
            for tpl in ctx.cfn_templates
            for _, props in tpl.of_type("AWS::EC2::VPCEndpoint")
        )
        for tpl, lid, props in vpcs:
            if not has_ec2:
                yield ctx.cfn_finding(
                    self,
                    tpl,
                    lid,
                    "private cluster endpoint with edge nodes, but no EC2 interface VPC endpoint in these templates",
                    "Properties",
                )
            missing = [k for k in ("EnableDnsHostnames", "EnableDnsSupport") if props.get(k) is not True]
            if missing:
                yield ctx.cfn_finding(
                    self,
                    tpl,
                    lid,
                    "private cluster endpoint needs " + " and ".join(missing) + " set to true on the VPC",
                    "Properties",
                )
