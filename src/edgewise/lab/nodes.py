"""The nodes a topology's node groups register on AWS, as Node objects for the lab.

Each node group brings ``desired`` nodes (at least one, none for ``max: 0``) named like
EC2 private DNS names. Labels are what the node reports on EKS:

* the kubelet's well-known labels: ``kubernetes.io/os``, ``kubernetes.io/arch``,
  ``kubernetes.io/hostname`` and the deprecated ``beta.kubernetes.io/os|arch``
  (https://kubernetes.io/docs/reference/labels-annotations-taints/);
* the AWS cloud provider's: ``node.kubernetes.io/instance-type``,
  ``topology.kubernetes.io/zone`` and ``topology.kubernetes.io/region`` and their
  ``beta.``/``failure-domain.beta.`` forms. The zone is the EC2 Availability Zone of the
  instance: a Local or Wavelength Zone's own name, and for an Outpost its anchor AZ
  (https://docs.aws.amazon.com/eks/latest/userguide/eks-outposts-local-cluster-overview.html);
* the labels and taints the plan gives the node group (:mod:`edgewise.plan.labels`:
  eksctl ``labels``/``taints`` and, for Wavelength, the kubelet's ``--node-labels`` and
  ``--register-with-taints``).

Capacity comes from the instance type: vCPUs and memory by size and family, pods as the
EKS AMI's max-pods table (ENIs x (IPv4 addresses per ENI - 1) + 2) gives them; see
:func:`instance_capacity`.
"""

from __future__ import annotations

from typing import Any

from ..catalog.instances import instance_arch, instance_vcpus
from ..plan.labels import K8S_ZONE_LABEL, LEGACY_ZONE_LABEL, node_labels, node_taints
from ..topology import Topology, Zone
from .control_plane import node_manifest

__all__ = ["instance_arch", "instance_capacity", "node_objects", "zone_node_labels"]

# GiB of memory per vCPU by family class (https://aws.amazon.com/ec2/instance-types/):
# compute c 2, general purpose m/t/a 4, memory r 8, x 16, storage i/d 8 (approx.)
_GIB_PER_VCPU = {"c": 2, "m": 4, "t": 4, "a": 2, "r": 8, "x": 16, "z": 8, "i": 8, "d": 8, "g": 4, "p": 8}

# max pods per size on the Nitro families the EKS AMI lists
# (https://github.com/awslabs/amazon-eks-ami/blob/main/templates/shared/runtime/eni-max-pods.txt):
# e.g. m5.large 29, m5.xlarge 58, c5d.2xlarge 58, m5.4xlarge 234, m5.16xlarge 737
_MAX_PODS = {"nano": 4, "micro": 4, "small": 11, "medium": 17, "large": 29, "xlarge": 58, "2xlarge": 58}


def instance_capacity(instance_type: str) -> dict[str, str]:
    """Node capacity (cpu, memory, pods) of an EC2 instance type."""
    family, _, size = instance_type.partition(".")
    vcpu = instance_vcpus(instance_type) or 96  # metal: 96 on m5/c5/r5 (the name does not say)
    mem_per_vcpu = _GIB_PER_VCPU.get(family[:1], 4)
    memory_gib = vcpu * mem_per_vcpu
    if family.startswith("t") and size in ("nano", "micro", "small", "medium"):
        memory_gib = {"nano": 0, "micro": 1, "small": 2, "medium": 4}[size]
    memory = f"{memory_gib}Gi" if memory_gib else "512Mi"
    if size in _MAX_PODS:
        pods = _MAX_PODS[size]
    elif vcpu <= 48:
        pods = 234
    else:
        pods = 737
    return {"cpu": str(vcpu), "memory": memory, "pods": str(pods), "ephemeral-storage": "80Gi"}


def _hostname(zone: Zone, index: int) -> str:
    # EC2 private DNS names: ip-10-0-<zone>-<n>.<region>.compute.internal (ec2.internal in us-east-1)
    domain = "ec2.internal" if zone.region == "us-east-1" else f"{zone.region}.compute.internal"
    return f"ip-10-{zone.index // 250}-{zone.index % 250}-{10 + index}.{domain}"


def zone_node_labels(zone: Zone, hostname: str) -> dict[str, str]:
    """Every label a node of ``zone``'s node group carries on EKS."""
    if zone.node_group is None:
        raise ValueError(f"zone {zone.name} has no node group")
    itype = zone.node_group.instance_type
    arch = instance_arch(itype)
    labels = {
        "kubernetes.io/os": "linux",
        "beta.kubernetes.io/os": "linux",
        "kubernetes.io/arch": arch,
        "beta.kubernetes.io/arch": arch,
        "kubernetes.io/hostname": hostname,
        "node.kubernetes.io/instance-type": itype,
        "beta.kubernetes.io/instance-type": itype,
        K8S_ZONE_LABEL: zone.k8s_zone,
        LEGACY_ZONE_LABEL: zone.k8s_zone,
        "topology.kubernetes.io/region": zone.region,
        "failure-domain.beta.kubernetes.io/region": zone.region,
        **node_labels(zone),
    }
    return dict(sorted(labels.items()))


def node_objects(topology: Topology) -> list[dict[str, Any]]:
    """Node objects (kwok-managed) for every node the topology's node groups start."""
    out: list[dict[str, Any]] = []
    for z in topology.zones:
        ng = z.node_group
        if ng is None or ng.max_size == 0:
            continue
        count = max(1, min(ng.desired, ng.max_size))
        for i in range(count):
            name = _hostname(z, i)
            out.append(
                node_manifest(
                    name,
                    labels=zone_node_labels(z, name),
                    taints=node_taints(z),
                    capacity=instance_capacity(ng.instance_type),
                    annotations={"edgewise.dev/zone": z.name},
                )
            )
    return out
