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
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ...topology import Topology
from ..artifacts import Artifact
from ..steps import RunbookStep
from .addons import addon_artifacts
from .controller import controller_artifact
from .eksctl import eksctl_artifact
from .runbook import runbook_artifacts
from .stacks import ClusterStacks, cluster_stacks

__all__ = ["ClusterObjects", "cluster_objects", "plan_cluster"]


@dataclass(frozen=True)
class ClusterObjects:
    """The cluster's files but the RUNBOOK, which lists the applications' install steps
    too: the stacks' templates, the eksctl config and the add-ons, sorted by path."""

    stacks: ClusterStacks
    artifacts: tuple[Artifact, ...]


def cluster_objects(topology: Topology, *, controller: bool = False) -> ClusterObjects:
    """:func:`plan_cluster` without the RUNBOOK (``RUNBOOK.md``, ``runbook.json``): what
    check reads of the cluster, which needs nothing of the applications."""
    stacks = cluster_stacks(topology)
    out = [*stacks.artifacts, eksctl_artifact(topology)]
    out += addon_artifacts(topology)
    if controller:
        out.append(controller_artifact(topology))
    return ClusterObjects(stacks, tuple(sorted(out, key=lambda a: a.path)))


def plan_cluster(
    topology: Topology,
    app_names: Sequence[str] = (),
    app_steps: Sequence[RunbookStep] = (),
    *,
    controller: bool = False,
    objects: ClusterObjects | None = None,
) -> list[Artifact]:
    """All cluster files for ``topology``, sorted by path.

    ``app_names`` are the applications the RUNBOOK applies (``kubectl apply -k apps/<app>``);
    ``app_steps`` what they need first (mesh install, Secrets), from the application plan;
    ``controller``: an application routes with ``kubernetes``, so the edgewise controller
    keeps its edge zones' endpoints (and fails them over to the Region); ``objects``:
    :func:`cluster_objects` for the same topology and ``controller``, built already.
    """
    if objects is None:
        objects = cluster_objects(topology, controller=controller)
    out = [*objects.artifacts]
    out += runbook_artifacts(topology, app_names, app_steps, controller=controller, stacks=objects.stacks)
    return sorted(out, key=lambda a: a.path)
