"""``cluster/eksctl.yaml``: the control plane and every node group eksctl can build.

What eksctl gets, and why:

* The VPC comes from the network stack (``vpc.id`` + named subnets). Values unknown at
  plan time are ``${VAR}`` placeholders (strings, so the file validates as written);
  the RUNBOOK exports them from the stack outputs and renders the file with
  ``envsubst`` before ``eksctl create cluster -f``. Existing subnet/VPC ids from the
  spec are written literally.
* ``vpc.controlPlaneSubnetIDs`` lists the Region AZ subnets only. Without it eksctl
  hands every subnet under ``vpc.subnets`` to EKS, and EKS refuses edge subnets
  (eksctl issue 7169: "the targeted availability zone does not currently have
  sufficient capacity").
* One self-managed node group (``nodeGroups``) per Region AZ, Local Zone and Outpost
  subnet; never managed node groups at the edge, never one group over two Outposts.
  Local Zones use explicit subnets: eksctl's ``localZones`` only works when eksctl
  creates the VPC. Wavelength Zones are absent: eksctl cannot build them (it skips
  wavelength-zone subnets and has no carrier IP support); see wavelength.py.
* Private API endpoint: eksctl cannot *create* a private-only endpoint. Even its fully
  private mode turns public access on while it creates the cluster ("public access is
  initially enabled to allow running operations that access the Kubernetes API",
  eksctl v0.215.0 pkg/apis/eksctl.io/v1alpha5/validation.go, ValidatePrivateCluster).
  So the cluster is created with both endpoints, but the public one never opens to
  0.0.0.0/0: ``vpc.publicAccessCIDRs`` (spec ``publicAccessCidrs``, else the operator's
  own address that the RUNBOOK exports as ``${OPERATOR_CIDR}``) goes into the cluster's
  CloudFormation resource at creation (eksctl pkg/cfn/builder/cluster.go sets
  ``PublicAccessCidrs`` from it). The RUNBOOK turns public access off once the nodes have
  joined (``eksctl utils update-cluster-vpc-config``). ``metadata.annotations`` records the
  intended access for readers and for ``check``.
* Outpost node groups carry no ``outpostARN``: eksctl's ValidateClusterConfig refuses
  node groups on two different Outposts ("cannot create nodegroups in two different
  Outposts"), so every group is pinned by its Outpost subnet alone, as seed 004 does.
* Control-plane logging (``cloudWatch.clusterLogging``, audit + authenticator by default,
  30-day retention) and envelope encryption of Secrets with a KMS key
  (``secretsEncryption.keyARN``; the network stack creates a key with rotation unless the
  spec names one) are on unless the spec turns them off.
* Every node group carries the cluster-autoscaler auto-discovery tags and propagates them
  to its Auto Scaling group.
"""

from __future__ import annotations

import json
from typing import Any

from ...spec import ZoneType
from ...topology import Topology, Zone
from ..artifacts import Artifact
from ..labels import REGION_NODE_LABEL, node_labels, node_taints
from .names import (
    CLUSTER_TAG,
    LBC_SERVICE_ACCOUNT,
    NTH_NAMESPACE,
    NTH_QUEUE_ARN,
    NTH_SERVICE_ACCOUNT,
    OPERATOR_CIDR,
    SECRETS_KEY_ARN,
    SHARED_NODE_SG,
    VPC_ID,
    EnvRef,
    ZoneNames,
    autoscaler_tags,
    has_outposts,
    zone_names,
)

__all__ = [
    "ENDPOINT_ACCESS_ANNOTATION",
    "NTH_MANAGED_TAG",
    "coredns_configuration",
    "eksctl_artifact",
    "eksctl_config",
    "eksctl_env_refs",
    "eksctl_zones",
    "needs_operator_cidr",
    "network_makes_secrets_key",
]

ENDPOINT_ACCESS_ANNOTATION = "edgewise.dev/endpoint-access"
#: ASG tag the termination handler checks before draining (its default managedTag)
NTH_MANAGED_TAG = "aws-node-termination-handler/managed"

Json = dict[str, Any]


def eksctl_zones(topology: Topology) -> tuple[Zone, ...]:
    """Zones with an eksctl node group: every zone with a node group but Wavelength."""
    return tuple(z for z in topology.zones if z.node_group is not None and z.kind is not ZoneType.WAVELENGTH)


def _subnet_zones(topology: Topology) -> tuple[Zone, ...]:
    """Zones whose subnets eksctl must know: the Region AZs and every eksctl node group's zone."""
    wanted = {z.name for z in topology.region_zones} | {z.name for z in eksctl_zones(topology)}
    return tuple(z for z in topology.zones if z.name in wanted)


def _subnet_id(n: ZoneNames) -> str:
    return n.zone.subnet_id if n.zone.subnet_id is not None else n.subnet_output.placeholder


def needs_operator_cidr(topology: Topology) -> bool:
    """A private endpoint without publicAccessCidrs: the operator's address limits the public one."""
    return not topology.public_endpoint and topology.public_access_cidrs is None


def network_makes_secrets_key(topology: Topology) -> bool:
    return topology.secrets_encryption and topology.secrets_key_arn is None


def _public_access_cidrs(topology: Topology) -> list[str] | None:
    if topology.public_access_cidrs is not None:
        return list(topology.public_access_cidrs)
    if needs_operator_cidr(topology):
        return [OPERATOR_CIDR.placeholder]
    return None  # a public endpoint the spec leaves open: EKS's default, 0.0.0.0/0


def eksctl_env_refs(topology: Topology) -> tuple[EnvRef, ...]:
    """Every ``${VAR}`` the eksctl config reads from the network stack, in RUNBOOK order.

    ``${OPERATOR_CIDR}`` (see :func:`needs_operator_cidr`) is not a stack output.
    """
    names = zone_names(topology)
    refs: list[EnvRef] = []
    if topology.vpc_id is None:
        refs.append(VPC_ID)
    refs.extend(names[z.name].subnet_output for z in _subnet_zones(topology) if z.subnet_id is None)
    if has_outposts(topology):
        refs.append(SHARED_NODE_SG)
        refs.extend(names[z.name].placement_output for z in eksctl_zones(topology) if z.kind is ZoneType.OUTPOST)
        refs.append(NTH_QUEUE_ARN)
    if network_makes_secrets_key(topology):
        refs.append(SECRETS_KEY_ARN)
    return tuple(refs)


def coredns_configuration() -> Json:
    """CoreDNS add-on configuration: the same pinning as addons/coredns-patch.yaml.

    Setting it on the managed add-on keeps the pinning when EKS updates CoreDNS (a
    plain ``kubectl patch`` would be overwritten by an add-on update).
    """
    return {
        "replicaCount": 2,
        "nodeSelector": {REGION_NODE_LABEL: "true"},
        "tolerations": [],
        "affinity": {
            "podAntiAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": [
                    {
                        "labelSelector": {
                            "matchExpressions": [{"key": "k8s-app", "operator": "In", "values": ["kube-dns"]}]
                        },
                        "topologyKey": "kubernetes.io/hostname",
                    }
                ]
            }
        },
    }


def _node_group(topology: Topology, n: ZoneNames) -> Json:
    z = n.zone
    ng = z.node_group
    assert ng is not None
    group: Json = {
        "name": n.node_group,
        "instanceType": ng.instance_type,
        "desiredCapacity": ng.desired,
        "minSize": ng.min_size,
        "maxSize": ng.max_size,
        "subnets": [n.eksctl_subnet_key],
        "privateNetworking": True,
        "volumeSize": ng.volume_size,
        "volumeType": z.volume_type,
        "volumeEncrypted": True,
        "disableIMDSv1": True,
        "labels": node_labels(z),
    }
    taints = node_taints(z)
    if taints:
        group["taints"] = taints
    tags = {CLUSTER_TAG: topology.name, "edgewise.dev/zone": z.name, **autoscaler_tags(topology.name)}
    if z.kind is ZoneType.OUTPOST:
        # pinned by its Outpost subnet alone (no outpostARN, see the module docstring)
        group["placement"] = {"groupName": n.placement_output.placeholder}
        tags[NTH_MANAGED_TAG] = "true"
    group["propagateASGTags"] = True
    group["tags"] = tags
    return group


def eksctl_config(topology: Topology) -> Json:
    """The ClusterConfig as a plain dict (validates against eksctl's JSON schema)."""
    names = zone_names(topology)
    cfg: Json = {
        "apiVersion": "eksctl.io/v1alpha5",
        "kind": "ClusterConfig",
        "metadata": {
            "name": topology.name,
            "region": topology.region,
            "version": topology.kubernetes_version,
            "tags": {CLUSTER_TAG: topology.name},
            "annotations": {ENDPOINT_ACCESS_ANNOTATION: topology.endpoint_access.value},
        },
        # API mode lets the Wavelength nodes join through an EC2_LINUX access entry
        "accessConfig": {"authenticationMode": "API_AND_CONFIG_MAP"},
    }
    accounts: list[Json] = [
        {
            "metadata": {"name": LBC_SERVICE_ACCOUNT, "namespace": "kube-system"},
            "wellKnownPolicies": {"awsLoadBalancerController": True},
        }
    ]
    if has_outposts(topology):
        accounts.append(
            {
                "metadata": {"name": NTH_SERVICE_ACCOUNT, "namespace": NTH_NAMESPACE},
                "attachPolicy": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Action": ["sqs:DeleteMessage", "sqs:ReceiveMessage"],
                            "Resource": NTH_QUEUE_ARN.placeholder,
                        },
                        {
                            "Effect": "Allow",
                            "Action": [
                                "autoscaling:CompleteLifecycleAction",
                                "autoscaling:DescribeAutoScalingInstances",
                                "autoscaling:DescribeTags",
                                "ec2:DescribeInstances",
                            ],
                            "Resource": "*",
                        },
                    ],
                },
            }
        )
    cfg["iam"] = {"withOIDC": True, "serviceAccounts": accounts}

    private: Json = {}
    for z in _subnet_zones(topology):
        n = names[z.name]
        spec: Json = {"id": _subnet_id(n)}
        if z.is_region:
            spec["az"] = z.name
        private[n.eksctl_subnet_key] = spec
    vpc: Json = {
        "id": topology.vpc_id if topology.vpc_id is not None else VPC_ID.placeholder,
        "subnets": {"private": private},
        "controlPlaneSubnetIDs": [_subnet_id(names[z.name]) for z in topology.region_zones],
        # PRIVATE is created with both endpoints and locked down by the RUNBOOK (see above)
        "clusterEndpoints": {"privateAccess": topology.private_endpoint, "publicAccess": True},
    }
    cidrs = _public_access_cidrs(topology)
    if cidrs is not None:
        vpc["publicAccessCIDRs"] = cidrs
    if has_outposts(topology):
        vpc["sharedNodeSecurityGroup"] = SHARED_NODE_SG.placeholder
        # our group holds CIDR rules only; eksctl would add security-group references
        vpc["manageSharedNodeSecurityGroupRules"] = False
    cfg["vpc"] = vpc
    cfg["addons"] = [
        {"name": "vpc-cni"},
        {"name": "kube-proxy"},
        {
            "name": "coredns",
            "configurationValues": json.dumps(coredns_configuration(), sort_keys=True),
        },
        {"name": "aws-ebs-csi-driver", "wellKnownPolicies": {"ebsCSIController": True}},
    ]
    cfg["nodeGroups"] = [_node_group(topology, names[z.name]) for z in eksctl_zones(topology)]
    if topology.log_types:
        cfg["cloudWatch"] = {
            "clusterLogging": {
                "enableTypes": list(topology.log_types),
                "logRetentionInDays": topology.log_retention_days,
            }
        }
    if topology.secrets_encryption:
        key = topology.secrets_key_arn if topology.secrets_key_arn is not None else SECRETS_KEY_ARN.placeholder
        cfg["secretsEncryption"] = {"keyARN": key}
    return cfg


def eksctl_artifact(topology: Topology) -> Artifact:
    return Artifact("cluster/eksctl.yaml", docs=(eksctl_config(topology),))
