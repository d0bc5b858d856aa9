"""EW105: Wavelength nodes with a public-only API endpoint and no Carrier IP."""

from __future__ import annotations

from collections.abc import Iterator

from ...spec import EndpointAccess, ZoneType
from ..model import CheckContext, Finding, Rule, Severity
from ._common import SEED_WLZ, asg_launch_template, asg_zones, m, seq, zone_kind


class WlzPublicEndpointNoCarrierIp(Rule):
    id = "EW105"
    name = "wlz-public-endpoint-no-carrier-ip"
    severity = Severity.ERROR
    summary = "Wavelength nodes reach a public-only API endpoint only with a Carrier IP."
    rationale = (
        f"{SEED_WLZ}: 'unless your worker nodes in AWS Wavelength Zones have attached "
        "Carrier IP addresses' they cannot reach the public endpoint; 'self-managed nodes "
        "in AWS Wavelength subnets can be automatically assigned a Carrier IP address at "
        "launch'."
    )
    fix = (
        "set NetworkInterfaces[].AssociateCarrierIpAddress: true in the launch template, or enable the private endpoint"
    )

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        public_only = ctx.topology is not None and ctx.topology.endpoint_access is EndpointAccess.PUBLIC
        for cfg in ctx.cluster_configs:
            # eksctl's defaults: publicAccess true, privateAccess false
            ep = m(m(cfg.body.get("vpc")).get("clusterEndpoints"))
            public_only = bool(ep.get("publicAccess", True)) and not ep.get("privateAccess", False)
        if not public_only:
            return
        for tpl in ctx.cfn_templates:
            for lid, props in tpl.of_type("AWS::AutoScaling::AutoScalingGroup"):
                if not any(zone_kind(ctx, z) is ZoneType.WAVELENGTH for z in asg_zones(ctx, tpl, props)):
                    continue
                found = asg_launch_template(tpl, props)
                nics = [m(n) for n in seq(found[1].get("NetworkInterfaces"))] if found else []
                if not any(n.get("AssociateCarrierIpAddress") is True for n in nics):
                    yield ctx.cfn_finding(
                        self,
                        tpl,
                        found[0] if found else lid,
                        f"Wavelength node group {lid} has no Carrier IP and the cluster endpoint is public only",
                        "Properties",
                    )
