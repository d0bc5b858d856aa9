"""EW101: the EKS control plane is given a subnet in an edge zone."""

from __future__ import annotations

from collections.abc import Iterator

from ..model import CheckContext, Finding, Rule, Severity
from ._common import SEED_WLZ, cfn_subnet_zone, m, seq


class ControlPlaneEdgeSubnet(Rule):
    id = "EW101"
    name = "control-plane-edge-subnet"
    severity = Severity.ERROR
    summary = "The EKS control plane must use Region AZ subnets only, never an edge subnet."
    rationale = (
        f"{SEED_WLZ}: 'additional configuration is needed to distinguish the subnets in "
        "the Control Plane (e.g., us-east-1a) from the worker nodes (e.g., "
        "us-east-1-wl1-bos-wlz-1)'; EKS rejects or mis-places control-plane ENIs in "
        "Local/Wavelength Zone and Outpost subnets."
    )
    fix = "list only Region AZs in availabilityZones / the cluster's SubnetIds"

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        for cfg in ctx.cluster_configs:
            for i, az in enumerate(seq(cfg.body.get("availabilityZones"))):
                if ctx.is_edge(str(az)):
                    yield ctx.finding(
                        self,
                        cfg,
                        f"availabilityZones lists edge zone {az}: eksctl puts control-plane subnets there",
                        path=("availabilityZones", i),
                    )
            vpc = m(cfg.body.get("vpc"))
            for i, sid in enumerate(seq(vpc.get("controlPlaneSubnetIDs"))):
                zone = ctx.zone_of_subnet_id(str(sid))
                if zone is not None and ctx.is_edge(zone):
                    yield ctx.finding(
                        self,
                        cfg,
                        f"vpc.controlPlaneSubnetIDs includes {sid}, the subnet of edge zone {zone}",
                        path=("vpc", "controlPlaneSubnetIDs", i),
                    )
            subnets = m(vpc.get("subnets"))
            for kind in ("private", "public"):
                for key, sub in m(subnets.get(kind)).items():
                    az = str(m(sub).get("az") or key)
                    if ctx.is_edge(az):
                        yield ctx.finding(
                            self,
                            cfg,
                            f"vpc.subnets.{kind}.{key} is in edge zone "
                            f"{az}; eksctl uses vpc.subnets for the control plane",
                            path=("vpc", "subnets", kind, key),
                        )
        for tpl in ctx.cfn_templates:
            for lid, props in tpl.of_type("AWS::EKS::Cluster"):
                vpc = m(props.get("ResourcesVpcConfig"))
                for j, ref in enumerate(seq(vpc.get("SubnetIds"))):
                    zone = cfn_subnet_zone(ctx, tpl, ref)
                    if zone and (ctx.is_edge(zone) or zone.startswith("outpost:")):
                        yield ctx.cfn_finding(
                            self,
                            tpl,
                            lid,
                            f"cluster subnet {ref} is in edge zone {zone}",
                            "Properties",
                            "ResourcesVpcConfig",
                            "SubnetIds",
                            j,
                        )
