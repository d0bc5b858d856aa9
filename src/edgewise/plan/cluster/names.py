"""Names shared by the cluster files: stacks, logical ids, outputs, shell variables.

The network stack, the eksctl config, the Wavelength stack and the RUNBOOK refer to
the same subnets, security groups and placement groups. They must agree on every name,
so every name is made here, once, from the zone (never from its position in a list
that another file might order differently).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ...spec import ZoneType
from ...topology import Topology, Zone

__all__ = [
    "CLUSTER_TAG",
    "LBC_SERVICE_ACCOUNT",
    "NTH_NAMESPACE",
    "NTH_QUEUE_ARN",
    "NTH_QUEUE_URL",
    "NTH_SERVICE_ACCOUNT",
    "OPERATOR_CIDR",
    "SECRETS_KEY_ARN",
    "SHARED_NODE_SG",
    "VPC_ID",
    "EnvRef",
    "ZoneNames",
    "autoscaler_tags",
    "has_outposts",
    "network_stack",
    "pascal",
    "wavelength_stack",
    "zone_names",
]

CLUSTER_TAG = "edgewise.dev/topology"
NTH_NAMESPACE = "kube-system"
NTH_SERVICE_ACCOUNT = "aws-node-termination-handler"
#: the AWS Load Balancer Controller creates the per-zone ALBs of the application plan
LBC_SERVICE_ACCOUNT = "aws-load-balancer-controller"


def pascal(text: str) -> str:
    """``us-west-2-lax-1a`` -> ``UsWest2Lax1a`` (CloudFormation logical ids are alphanumeric)."""
    return "".join(p[:1].upper() + p[1:] for p in re.split(r"[^A-Za-z0-9]+", text) if p)


def _snake(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_").upper()


def network_stack(topology: Topology) -> str:
    return f"{topology.name}-network"


def wavelength_stack(topology: Topology) -> str:
    return f"{topology.name}-wavelength-nodes"


def has_outposts(topology: Topology) -> bool:
    return bool(topology.of_kind(ZoneType.OUTPOST))


@dataclass(frozen=True)
class EnvRef:
    """A value the network stack outputs and the eksctl config needs.

    ``var`` is the shell variable the RUNBOOK exports (``${var}`` in eksctl.yaml);
    ``output`` is the stack output key it is read from.
    """

    var: str
    output: str

    @property
    def placeholder(self) -> str:
        return "${" + self.var + "}"


VPC_ID = EnvRef("VPC_ID", "VpcId")
SHARED_NODE_SG = EnvRef("SHARED_NODE_SG_ID", "SharedNodeSecurityGroupId")
NTH_QUEUE_URL = EnvRef("NTH_QUEUE_URL", "NodeTerminationQueueUrl")
NTH_QUEUE_ARN = EnvRef("NTH_QUEUE_ARN", "NodeTerminationQueueArn")
SECRETS_KEY_ARN = EnvRef("SECRETS_KEY_ARN", "SecretsKeyArn")
#: not a stack output: the RUNBOOK sets it to the operator's public address (/32)
OPERATOR_CIDR = EnvRef("OPERATOR_CIDR", "")


def autoscaler_tags(cluster: str) -> dict[str, str]:
    """cluster-autoscaler auto-discovery tags of a node group's Auto Scaling group
    (``--node-group-auto-discovery=asg:tag=k8s.io/cluster-autoscaler/enabled,k8s.io/cluster-autoscaler/<cluster>``,
    https://github.com/kubernetes/autoscaler/blob/master/cluster-autoscaler/cloudprovider/aws/README.md)."""
    return {"k8s.io/cluster-autoscaler/enabled": "true", f"k8s.io/cluster-autoscaler/{cluster}": "owned"}


@dataclass(frozen=True)
class ZoneNames:
    zone: Zone
    key: str  # unique alphanumeric part, e.g. Lax1a
    var: str  # unique shell-variable part, e.g. LAX_1A

    @property
    def subnet(self) -> str:
        return f"Subnet{self.key}"

    @property
    def subnet_output(self) -> EnvRef:
        return EnvRef(f"SUBNET_{self.var}", f"Subnet{self.key}Id")

    @property
    def public_key(self) -> str:
        """Logical-id part of the zone's public subnet (Region AZ, Local Zone): ``PublicLax1a``."""
        return f"Public{self.key}"

    @property
    def route_table(self) -> str:
        return f"RouteTable{self.key}"

    @property
    def placement_group(self) -> str:
        return f"PlacementGroup{self.key}"

    @property
    def placement_output(self) -> EnvRef:
        return EnvRef(f"PLACEMENT_GROUP_{self.var}", f"PlacementGroup{self.key}Name")

    @property
    def dns(self) -> str:
        """Unique DNS-friendly part (the zone slug, made unique like ``var``)."""
        return self.var.lower().replace("_", "-")

    @property
    def node_group(self) -> str:
        """eksctl node group name / ASG name part (DNS-friendly, stable)."""
        return f"ng-{self.dns}"

    @property
    def eksctl_subnet_key(self) -> str:
        """Key under eksctl ``vpc.subnets.private``: the AZ name for Region AZs."""
        return self.zone.name if self.zone.is_region else f"edge-{self.dns}"


def zone_names(topology: Topology) -> dict[str, ZoneNames]:
    """Zone name -> its names; keys made unique even when two slugs collapse alike."""
    out: dict[str, ZoneNames] = {}
    seen: set[str] = set()
    for z in topology.zones:
        key = pascal(z.slug) or f"Zone{z.index}"
        var = _snake(z.slug) or f"ZONE_{z.index}"
        if key in seen or var in seen:
            key, var = f"{key}Z{z.index}", f"{var}_Z{z.index}"
        seen.update((key, var))
        out[z.name] = ZoneNames(z, key, var)
    return out
