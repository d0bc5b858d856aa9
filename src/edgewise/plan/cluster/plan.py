"""The cluster plan's entry points (:mod:`edgewise.plan.cluster` names them): the
cluster's objects, then every file with the RUNBOOK."""

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
