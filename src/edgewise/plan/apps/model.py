"""What an application plan says, in a form the CLI summary, check and simulate can read."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..artifacts import Artifact, StackFile
from .ingress import DnsSite

__all__ = ["AppPlan", "CallRoute", "ServiceCopy", "SitePlan", "objects", "objects_with_paths"]


@dataclass(frozen=True)
class ServiceCopy:
    """One copy of a service: the Deployment that runs it in a site's namespace."""

    service: str
    namespace: str
    workload: str  # Deployment name
    replicas: int


@dataclass(frozen=True)
class CallRoute:
    """Where a call from a site goes under the plan's routing backend.

    ``target``/``failover`` are a zone name (edge) or ``"region"``; ``None`` when there is
    no target (the call cannot be served) or no failover.
    """

    caller: str
    callee: str
    target: str | None
    target_namespace: str | None
    failover: str | None
    failover_namespace: str | None
    #: consul | consul-redirect | consul-failover | istio | istio-locality | externalname |
    #: kube-proxy | none
    mechanism: str


@dataclass(frozen=True)
class SitePlan:
    """One place the app runs: an edge zone, or the Region (all its AZs)."""

    site: str  # edge zone name, or "region"
    kind: str  # local | wavelength | outpost | region
    namespace: str
    zones: tuple[str, ...]  # topology zones the site's pods may run in
    services: tuple[ServiceCopy, ...]
    calls: tuple[CallRoute, ...]
    ingress_subnets: tuple[str, ...] = ()  # ALB subnets (IDs or Name tags); () = no ALB


@dataclass(frozen=True)
class AppPlan:
    app: str
    routing: str
    sites: tuple[SitePlan, ...]
    artifacts: list[Artifact]
    notes: list[str]
    #: artifact paths that hold Kubernetes objects (the kustomization's resources)
    resources: tuple[str, ...] = field(default=())
    #: the ALBs ``apps/<app>/dns.cfn.yaml`` (when written) takes as parameters
    dns: tuple[DnsSite, ...] = field(default=())
    #: namespace -> the artifact path holding its Namespace object (the RUNBOOK applies
    #: these before creating the app's Secrets)
    namespace_files: dict[str, str] = field(default_factory=dict)
    #: the stacks of those records, in deploy order: ``dns.cfn.yaml``, and when it is
    #: split its edge groups (and the failover PRIMARY's stack), each with its parameters
    dns_stacks: tuple[StackFile, ...] = field(default=())

    def site(self, name: str) -> SitePlan:
        for s in self.sites:
            if s.site == name:
                return s
        raise KeyError(f"{name!r} is not a site of application {self.app!r}")


def objects_with_paths(plan: AppPlan) -> list[tuple[str, int, Mapping[str, Any]]]:
    """Every generated Kubernetes object with its file path and document index."""
    wanted = set(plan.resources)
    out: list[tuple[str, int, Mapping[str, Any]]] = []
    for art in sorted(plan.artifacts, key=lambda a: a.path):
        if art.path in wanted and art.docs is not None:
            out.extend((art.path, i, doc) for i, doc in enumerate(art.docs))
    return out


def objects(plan: AppPlan) -> list[dict[str, Any]]:
    """Every generated Kubernetes (and mesh CRD) object, in file order (for check/simulate)."""
    return [dict(doc) for _, _, doc in objects_with_paths(plan)]
