"""The cluster plan: everything that stands the EKS cluster up for one topology.

``plan_cluster`` returns the files (as :class:`~edgewise.plan.artifacts.Artifact`):

* ``cluster/network.cfn.yaml``: VPC, one subnet per zone, routing (NAT, carrier
  gateway), VPC endpoints, the Outposts' CIDR-only shared node security group; when that
  template would not fit CloudFormation's quotas, it is the base stack and
  ``cluster/network-NNN.cfn.yaml`` hold the edge zones in groups, with
  ``cluster/network-s3-endpoint.cfn.yaml`` after them (:mod:`.stacks`);
* ``cluster/eksctl.yaml``: control plane in Region AZ subnets, one self-managed node
  group per Region AZ / Local Zone / Outpost;
* ``cluster/wavelength-nodes.cfn.yaml``: the Wavelength node groups eksctl cannot build
  (split the same way: ``cluster/wavelength-nodes-NNN.cfn.yaml``);
* ``cluster/addons/``: CoreDNS pinned to the Region, gp2 StorageClass, termination handler,
  and with ``routing: kubernetes`` the edgewise controller (:mod:`.controller`);
* ``RUNBOOK.md``: the exact commands, in order; ``runbook.json``: the same steps as data
  (what ``edgewise apply`` runs).

Output is deterministic: the same topology gives the same bytes.

The names are imported on first use (PEP 562): the application plan imports a few of
this package's modules (the template split, the add-ons' StorageClass, the stacks' deploy
waves), and importing one of them should not import all of the cluster plan (the RUNBOOK,
the eksctl config, the controller: ~5 ms of check's forked child in ``plan``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ... import _lazy

if TYPE_CHECKING:
    from .plan import ClusterObjects, cluster_objects, plan_cluster

__all__ = ["ClusterObjects", "cluster_objects", "plan_cluster"]

__getattr__, __dir__ = _lazy.attach(__name__, {
    "ClusterObjects": ".plan",
    "cluster_objects": ".plan",
    "plan_cluster": ".plan",
})
