"""``cluster/wavelength-nodes.cfn.yaml``: self-managed node groups in Wavelength Zones.

eksctl cannot build Wavelength node groups (it skips wavelength-zone subnets and cannot
request Carrier IPs), so this stack does what eksctl would: per Wavelength Zone a launch
template and an Auto Scaling group, plus the node IAM role and an EKS access entry of
type EC2_LINUX so the nodes may join. Choices:

* AMI: the EKS-optimised Amazon Linux 2023 image for the cluster's Kubernetes version,
  read from the public SSM parameter at deploy time (no AMI id is baked in; node and
  control plane versions match, as the skew policy wants).
* Bootstrap: AL2023 joins with ``nodeadm``; the user data is a MIME document carrying a
  ``NodeConfig`` whose kubelet flags set edgewise's node labels and the edge taint.
* Root volume gp2 (the only EBS type in Wavelength Zones), encrypted; IMDSv2 required.
* ``AssociateCarrierIpAddress`` when the zone uses Carrier IPs: with a public API
  endpoint the nodes reach the control plane only through the carrier gateway.
* Updates: a change to the launch template replaces nodes one at a time
  (``AutoScalingRollingUpdate`` with MinInstancesInService = the group's minimum, so the
  zone never drops below its floor), and the group carries the cluster-autoscaler
  auto-discovery tags.
* Zones without Carrier IPs pull through ECR only; the node role may then fill the
  public.ecr.aws pull-through cache (ecr:CreateRepository + ecr:BatchImportUpstreamImage,
  https://docs.aws.amazon.com/AmazonECR/latest/userguide/pull-through-cache-iam.html).
* Security group: the EKS cluster security group (passed in), which the control plane
  and eksctl's node groups already trust; Region nodes' CIDR rules include these subnets.
"""

from __future__ import annotations

from typing import Any

from ...catalog.instances import instance_arch as _k8s_arch
from ...spec import ZoneType
from ...topology import Topology, Zone
from ..artifacts import Artifact
from ..labels import node_labels, node_taints
from .cfnsplit import Part, Split, split_template
from .names import ZoneNames, autoscaler_tags, network_stack, pascal, wavelength_stack, zone_names
from .network import ECR_PUBLIC_CACHE_PREFIX

__all__ = [
    "NODE_POLICIES",
    "ami_parameter",
    "imports_subnets",
    "instance_arch",
    "nodeadm_user_data",
    "wavelength_artifact",
    "wavelength_parts",
    "wavelength_template",
    "wavelength_zones",
]

NODE_POLICIES = (
    "AmazonEKSWorkerNodePolicy",
    "AmazonEC2ContainerRegistryReadOnly",
    "AmazonEKS_CNI_Policy",
    "AmazonSSMManagedInstanceCore",
)


Json = dict[str, Any]


def wavelength_zones(topology: Topology) -> tuple[Zone, ...]:
    return tuple(z for z in topology.of_kind(ZoneType.WAVELENGTH) if z.node_group is not None)


def instance_arch(instance_type: str) -> str:
    """The AMI's architecture name for an instance type: ``x86_64`` or ``arm64``."""
    return "arm64" if _k8s_arch(instance_type) == "arm64" else "x86_64"


def ami_parameter(kubernetes_version: str, arch: str) -> str:
    """Public SSM parameter holding the recommended EKS AL2023 AMI id."""
    return f"/aws/service/eks/optimized-ami/{kubernetes_version}/amazon-linux-2023/{arch}/standard/recommended/image_id"


def nodeadm_user_data(zone: Zone) -> str:
    """MIME user data with a nodeadm NodeConfig; ``${...}`` are Fn::Sub parameters."""
    labels = ",".join(f"{k}={v}" for k, v in node_labels(zone).items())
    flags = [f"--node-labels={labels}"]
    taints = node_taints(zone)
    if taints:
        flags.append("--register-with-taints=" + ",".join(f"{t['key']}={t['value']}:{t['effect']}" for t in taints))
    lines = [
        "MIME-Version: 1.0",
        'Content-Type: multipart/mixed; boundary="BOUNDARY"',
        "",
        "--BOUNDARY",
        "Content-Type: application/node.eks.aws",
        "",
        "---",
        "apiVersion: node.eks.aws/v1alpha1",
        "kind: NodeConfig",
        "spec:",
        "  cluster:",
        "    name: ${ClusterName}",
        "    apiServerEndpoint: ${ClusterEndpoint}",
        "    certificateAuthority: ${ClusterCertificateAuthority}",
        "    cidr: ${ServiceCidr}",
        "  kubelet:",
        "    flags:",
        *[f'      - "{f}"' for f in flags],
        "",
        "--BOUNDARY--",
        "",
    ]
    return "\n".join(lines)


def imports_subnets(topology: Topology) -> bool:
    """True when a Wavelength subnet comes from the network stack (not an existing id)."""
    return any(z.subnet_id is None for z in wavelength_zones(topology))


def _image_param(arch: str) -> str:
    return "NodeImageId" + pascal(arch.replace("_", "-"))


def _subnet(topology: Topology, n: ZoneNames) -> Any:
    if n.zone.subnet_id is not None:
        return n.zone.subnet_id
    return {"Fn::ImportValue": {"Fn::Sub": "${NetworkStackName}-" + n.subnet_output.output}}


def _pull_through_policy(topology: Topology) -> Json:
    if not any(not z.carrier_ip for z in wavelength_zones(topology)):
        return {}
    return {
        "Policies": [
            {
                "PolicyName": "ecr-public-pull-through-cache",
                "PolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Action": ["ecr:BatchImportUpstreamImage", "ecr:CreateRepository"],
                            "Resource": {
                                "Fn::Sub": "arn:${AWS::Partition}:ecr:${AWS::Region}:${AWS::AccountId}:repository/"
                                + ECR_PUBLIC_CACHE_PREFIX
                                + "/*"
                            },
                        }
                    ],
                },
            }
        ]
    }


def wavelength_template(topology: Topology) -> Json:
    """The Wavelength node groups as one template, whole."""
    return _wavelength(topology)[0]


def wavelength_parts(topology: Topology) -> list[Part]:
    """The Wavelength node groups as stacks: one when the template fits (see
    :mod:`.cfnsplit`), else a base stack (node role, instance profile, access entry) and
    one per group of Wavelength Zones (launch template + Auto Scaling group each)."""
    template, owner = _wavelength(topology)
    return split_template(template, Split(
        owner=owner,
        zones=[z.name for z in wavelength_zones(topology)],
        prefix_param="WavelengthStackName",
        base_stack=wavelength_stack(topology),
        group_suffix="-edge-{n:02d}",
    ))


def _wavelength(topology: Topology) -> tuple[Json, dict[str, str]]:
    names = zone_names(topology)
    owner: dict[str, str] = {}
    zones = wavelength_zones(topology)
    arches = sorted({instance_arch(z.node_group.instance_type) for z in zones if z.node_group})
    params: Json = {
        "ClusterName": {
            "Type": "String",
            "Default": topology.name,
            "Description": "EKS cluster name",
        },
        "ClusterEndpoint": {
            "Type": "String",
            "Description": "aws eks describe-cluster: cluster.endpoint",
        },
        "ClusterCertificateAuthority": {
            "Type": "String",
            "Description": "aws eks describe-cluster: cluster.certificateAuthority.data",
        },
        "ServiceCidr": {
            "Type": "String",
            "Description": "aws eks describe-cluster: cluster.kubernetesNetworkConfig.serviceIpv4Cidr",
        },
        "ClusterSecurityGroupId": {
            "Type": "AWS::EC2::SecurityGroup::Id",
            "Description": "aws eks describe-cluster: cluster.resourcesVpcConfig.clusterSecurityGroupId",
        },
    }
    if imports_subnets(topology):
        params["NetworkStackName"] = {
            "Type": "String",
            "Default": network_stack(topology),
            "Description": "Stack that exports the subnet ids",
        }
    for arch in arches:
        params[_image_param(arch)] = {
            "Type": "AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>",
            "Default": ami_parameter(topology.kubernetes_version, arch),
            "Description": f"EKS-optimised AL2023 {arch} AMI for Kubernetes {topology.kubernetes_version}",
        }

    res: Json = {
        "NodeRole": {
            "Type": "AWS::IAM::Role",
            "Properties": {
                "AssumeRolePolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": ["ec2.amazonaws.com"]},
                            "Action": ["sts:AssumeRole"],
                        }
                    ],
                },
                "ManagedPolicyArns": [{"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/" + p} for p in NODE_POLICIES],
                "Path": "/",
                **_pull_through_policy(topology),
            },
        },
        "NodeInstanceProfile": {
            "Type": "AWS::IAM::InstanceProfile",
            "Properties": {"Path": "/", "Roles": [{"Ref": "NodeRole"}]},
        },
        "NodeAccessEntry": {
            "Type": "AWS::EKS::AccessEntry",
            "Properties": {
                "ClusterName": {"Ref": "ClusterName"},
                "PrincipalArn": {"Fn::GetAtt": ["NodeRole", "Arn"]},
                "Type": "EC2_LINUX",
            },
        },
    }
    outputs: Json = {
        "NodeRoleArn": {
            "Description": "IAM role of the Wavelength nodes",
            "Value": {"Fn::GetAtt": ["NodeRole", "Arn"]},
        }
    }
    for z in zones:
        ng = z.node_group
        assert ng is not None
        n = names[z.name]
        lt, asg = f"LaunchTemplate{n.key}", f"AutoScalingGroup{n.key}"
        res[lt] = {
            "Type": "AWS::EC2::LaunchTemplate",
            "Properties": {
                "LaunchTemplateData": {
                    "ImageId": {"Ref": _image_param(instance_arch(ng.instance_type))},
                    "InstanceType": ng.instance_type,
                    "IamInstanceProfile": {"Arn": {"Fn::GetAtt": ["NodeInstanceProfile", "Arn"]}},
                    "MetadataOptions": {
                        "HttpEndpoint": "enabled",
                        "HttpTokens": "required",
                        "HttpPutResponseHopLimit": 2,
                    },
                    "BlockDeviceMappings": [
                        {
                            "DeviceName": "/dev/xvda",
                            "Ebs": {
                                "VolumeSize": ng.volume_size,
                                "VolumeType": z.volume_type,
                                "Encrypted": True,
                                "DeleteOnTermination": True,
                            },
                        }
                    ],
                    "NetworkInterfaces": [
                        {
                            "DeviceIndex": 0,
                            "AssociateCarrierIpAddress": z.carrier_ip,
                            "Groups": [{"Ref": "ClusterSecurityGroupId"}],
                            "DeleteOnTermination": True,
                        }
                    ],
                    "UserData": {"Fn::Base64": {"Fn::Sub": nodeadm_user_data(z)}},
                    "TagSpecifications": [
                        {
                            "ResourceType": "instance",
                            "Tags": [
                                {"Key": "Name", "Value": f"{topology.name}-{n.node_group}"},
                                {"Key": "edgewise.dev/zone", "Value": z.name},
                            ],
                        }
                    ],
                }
            },
        }
        res[asg] = {
            "Type": "AWS::AutoScaling::AutoScalingGroup",
            "DependsOn": "NodeAccessEntry",
            # a launch template change replaces one node at a time, never below the floor
            "UpdatePolicy": {
                "AutoScalingRollingUpdate": {
                    "MinInstancesInService": ng.min_size,
                    "MaxBatchSize": 1,
                    "PauseTime": "PT5M",
                }
            },
            "Properties": {
                "LaunchTemplate": {
                    "LaunchTemplateId": {"Ref": lt},
                    "Version": {"Fn::GetAtt": [lt, "LatestVersionNumber"]},
                },
                "MinSize": str(ng.min_size),
                "MaxSize": str(ng.max_size),
                "DesiredCapacity": str(ng.desired),
                "VPCZoneIdentifier": [_subnet(topology, n)],
                "Tags": [
                    {
                        "Key": "Name",
                        "Value": f"{topology.name}-{n.node_group}",
                        "PropagateAtLaunch": True,
                    },
                    {
                        "Key": f"kubernetes.io/cluster/{topology.name}",
                        "Value": "owned",
                        "PropagateAtLaunch": True,
                    },
                    {"Key": "edgewise.dev/zone", "Value": z.name, "PropagateAtLaunch": True},
                    *[
                        {"Key": k, "Value": v, "PropagateAtLaunch": False}
                        for k, v in autoscaler_tags(topology.name).items()
                    ],
                ],
            },
        }
        outputs[f"{asg}Name"] = {
            "Description": f"Auto Scaling group of {z.name}",
            "Value": {"Ref": asg},
        }
        owner.update({lt: z.name, asg: z.name, f"{asg}Name": z.name})
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": f"edgewise self-managed Wavelength node groups for {topology.name}",
        "Parameters": params,
        "Resources": res,
        "Outputs": outputs,
    }, owner


def wavelength_artifact(topology: Topology) -> Artifact | None:
    """None when the topology has no Wavelength node group."""
    if not wavelength_zones(topology):
        return None
    return Artifact("cluster/wavelength-nodes.cfn.yaml", docs=(wavelength_template(topology),))
