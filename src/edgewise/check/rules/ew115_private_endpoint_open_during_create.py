"""EW115: a cluster meant to be private whose public endpoint admits 0.0.0.0/0."""

from __future__ import annotations

from collections.abc import Iterator

from ..model import CheckContext, Finding, Rule, Severity
from ._common import m

ENDPOINT_ACCESS_ANNOTATION = "edgewise.dev/endpoint-access"
OPEN = {"0.0.0.0/0", "::/0"}


class PrivateEndpointOpenDuringCreate(Rule):
    id = "EW115"
    name = "private-endpoint-open-during-create"
    severity = Severity.ERROR
    summary = "A cluster meant to be private must limit its temporary public endpoint with vpc.publicAccessCIDRs."
    rationale = (
        "eksctl cannot create a private-only endpoint: even for privateCluster.enabled it sets "
        "publicAccess on 'to allow running operations that access the Kubernetes API' "
        "(eksctl v0.215.0 ValidatePrivateCluster, pkg/apis/eksctl.io/v1alpha5/validation.go). "
        "Without vpc.publicAccessCIDRs EKS opens that endpoint to 0.0.0.0/0 until someone turns "
        "it off. eksctl writes vpc.publicAccessCIDRs into the cluster resource at creation "
        "(pkg/cfn/builder/cluster.go, PublicAccessCidrs), so the window never exists "
        "(https://docs.aws.amazon.com/eks/latest/eksctl/vpc-cluster-access.html)."
    )
    fix = "set vpc.publicAccessCIDRs to the operators' public address range (e.g. the deploying host's /32)"

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        for cfg in ctx.cluster_configs:
            body = cfg.body
            vpc = m(body.get("vpc"))
            endpoints = m(vpc.get("clusterEndpoints"))
            intent = m(m(body.get("metadata")).get("annotations")).get(ENDPOINT_ACCESS_ANNOTATION)
            fully_private = m(body.get("privateCluster")).get("enabled") is True
            if not (fully_private or intent == "private"):
                continue
            # eksctl forces public access on for privateCluster; otherwise publicAccess: false creates private-only
            if not fully_private and endpoints.get("publicAccess") is False:
                continue
            cidrs = vpc.get("publicAccessCIDRs")
            values = [str(c) for c in cidrs] if isinstance(cidrs, list) else []
            if not values or OPEN & set(values):
                what = "no vpc.publicAccessCIDRs" if not values else "vpc.publicAccessCIDRs includes 0.0.0.0/0"
                yield ctx.finding(
                    self,
                    cfg,
                    f"the cluster is meant to be private, but eksctl creates it with a public endpoint and {what}: "
                    "the API is open to the internet until a manual step closes it",
                    path=("vpc", "publicAccessCIDRs") if values else ("vpc",),
                )
