"""The routing strategies simulate compares, as Kubernetes objects.

Every strategy deploys the same copies (one per zone the spec's placement names) and
differs only in how a call finds a copy. Each is expressed as the Kubernetes/mesh
objects a team would apply, so that the simulation reads them through the same
:class:`~edgewise.k8s.inventory.Inventory` and route resolver that ``check`` uses:
nothing here decides where a call goes.

* ``flat`` - one namespace, one Service per service over every copy: kube-proxy spreads
  calls uniformly over all endpoints, including copies in sibling edge zones the caller
  cannot reach.
* ``prefer-close`` - the same with ``trafficDistribution: PreferClose``: same-zone
  endpoints first, but with none Ready the fallback is every endpoint cluster-wide.
* ``namespace-per-zone`` - the seed's pattern: a namespace per zone, short names resolve
  inside it; a shared Region service does not exist in an edge namespace, so calls to it
  fail, and there is no failover.
* ``edgewise`` - exactly what ``plan`` generates for the Application's routing backend.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..plan.labels import EDGE_TAINT_EFFECT, EDGE_TAINT_KEY, EDGE_TAINT_VALUE, ZONE_LABEL
from ..spec import Application, IngressKind, ServiceSpec
from ..topology import Topology, Zone
from .scenarios import copy_zones

__all__ = [
    "APP_LABEL",
    "CALLS_ANNOTATION",
    "SERVICE_LABEL",
    "STRATEGY_NAMES",
    "StrategyObjects",
    "baseline_objects",
    "copy_replicas",
    "strategy_objects",
]

STRATEGY_NAMES: tuple[str, ...] = ("flat", "prefer-close", "namespace-per-zone", "edgewise")
APP_LABEL = "app"
#: the logical service a pod belongs to (read back to map endpoints to spec services)
SERVICE_LABEL = "app.kubernetes.io/name"
CALLS_ANNOTATION = "edgewise.dev/calls"


@dataclass(frozen=True)
class StrategyObjects:
    """The objects of one strategy and how users reach its entry points."""

    name: str
    summary: str
    objects: tuple[Mapping[str, Any], ...]
    #: how users reach an ingress: ``own-zone`` (their zone's, failing when it is down),
    #: ``nearest-healthy`` (Route 53 latency records evaluating target health) or
    #: ``weighted`` (Route 53 weighted records evaluating target health: evenly over the
    #: healthy ingresses)
    entry_policy: str
    #: (namespace, workload) -> the Application service its pods run
    service_of: Mapping[tuple[str, str], str]


def copy_replicas(service: ServiceSpec, zone: Zone) -> int:
    """Replicas of ``service``'s copy in ``zone`` (Region copies: regionReplicas if set)."""
    if zone.is_region and service.region_replicas is not None:
        return service.region_replicas
    return service.replicas


def _namespace(name: str, app: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": name, "labels": {"app.kubernetes.io/part-of": app}},
    }


def _deployment(app: Application, svc: ServiceSpec, zone: Zone, name: str, namespace: str) -> dict[str, Any]:
    by_name = {s.name: s for s in app.spec.services}
    labels = {APP_LABEL: svc.name, SERVICE_LABEL: svc.name, ZONE_LABEL: zone.name}
    pod_meta: dict[str, Any] = {"labels": dict(labels)}
    if svc.calls:
        pod_meta["annotations"] = {CALLS_ANNOTATION: ",".join(svc.calls)}
    container: dict[str, Any] = {
        "name": svc.name,
        "image": svc.image,
        "ports": [{"containerPort": svc.port}],
    }
    env = [
        {"name": c.upper().replace("-", "_") + "_ADDR", "value": f"{c}:{by_name[c].port}"}
        for c in svc.calls
        if c in by_name
    ]
    if env:
        container["env"] = env
    pod_spec: dict[str, Any] = {"nodeSelector": {ZONE_LABEL: zone.name}}
    if zone.is_edge:
        pod_spec["tolerations"] = [
            {
                "key": EDGE_TAINT_KEY,
                "operator": "Equal",
                "value": EDGE_TAINT_VALUE,
                "effect": EDGE_TAINT_EFFECT,
            }
        ]
    pod_spec["containers"] = [container]
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace, "labels": dict(labels)},
        "spec": {
            "replicas": copy_replicas(svc, zone),
            "selector": {"matchLabels": {APP_LABEL: svc.name, ZONE_LABEL: zone.name}},
            "template": {"metadata": pod_meta, "spec": pod_spec},
        },
    }


def _service(svc: ServiceSpec, namespace: str, *, prefer_close: bool) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "selector": {APP_LABEL: svc.name},
        "ports": [{"name": "app", "port": svc.port, "targetPort": svc.port}],
    }
    if prefer_close:
        spec["trafficDistribution"] = "PreferClose"
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": svc.name, "namespace": namespace, "labels": {SERVICE_LABEL: svc.name}},
        "spec": spec,
    }


def baseline_objects(topology: Topology, app: Application, strategy: str) -> list[dict[str, Any]]:
    """Objects of the ``flat``, ``prefer-close`` or ``namespace-per-zone`` strategy.

    Deployments are pinned per zone (``edgewise.dev/zone`` node selector, edge taint
    tolerated); callers name their callees by the short Service name, as the seeds do.
    """
    name = app.metadata.name
    out: list[dict[str, Any]] = []
    if strategy in ("flat", "prefer-close"):
        out.append(_namespace(name, name))
        for svc in app.spec.services:
            for z in copy_zones(topology, svc):
                out.append(_deployment(app, svc, z, f"{svc.name}-{z.slug}", name))
            out.append(_service(svc, name, prefer_close=strategy == "prefer-close"))
        return out
    if strategy == "namespace-per-zone":
        for z in topology.zones:
            ns = f"{name}-{z.slug}"
            here = [s for s in app.spec.services if z in copy_zones(topology, s)]
            if not here:
                continue
            out.append(_namespace(ns, name))
            for svc in here:
                out.append(_deployment(app, svc, z, svc.name, ns))
                out.append(_service(svc, ns, prefer_close=False))
        return out
    raise ValueError(f"not a baseline strategy: {strategy}")


_SUMMARIES = {
    "flat": "one namespace, one Service per service over every copy (kube-proxy, uniform)",
    "prefer-close": "trafficDistribution: PreferClose (same zone first, then every endpoint cluster-wide)",
    "namespace-per-zone": "a namespace per zone, short names (seed 001); shared Region services not found",
    "edgewise": "what `edgewise plan` generates for the Application's routing backend",
}


def _service_of(objects: Sequence[Mapping[str, Any]]) -> dict[tuple[str, str], str]:
    out: dict[tuple[str, str], str] = {}
    for o in objects:
        if o.get("kind") == "Deployment":
            meta = o["metadata"]
            out[(meta["namespace"], meta["name"])] = meta["labels"][SERVICE_LABEL]
    return out


def _edgewise(topology: Topology, app: Application) -> StrategyObjects:
    from ..plan.apps import objects, plan_application

    plan = plan_application(topology, app)
    service_of: dict[tuple[str, str], str] = {}
    for site in plan.sites:
        for c in site.services:
            service_of[(c.namespace, c.workload)] = c.service
    return StrategyObjects(
        "edgewise",
        f"{_SUMMARIES['edgewise']} ({app.spec.routing.value})",
        tuple(objects(plan)),
        # plan writes Route 53 alias records over the per-site ALBs that evaluate target
        # health; without an ingress, users reach their zone's copy directly
        entry_policy=(
            # geoproximity sends users to the closest healthy ALB; weighted and failover
            # (whose primary is a weighted set of the edge ALBs) spread them evenly
            ("nearest-healthy" if app.spec.dns == "geoproximity" else "weighted")
            if app.spec.ingress is IngressKind.ALB
            else "own-zone"
        ),
        service_of=service_of,
    )


def strategy_objects(topology: Topology, app: Application, strategy: str) -> StrategyObjects:
    """The objects of ``strategy`` for ``app`` on ``topology``."""
    if strategy == "edgewise":
        return _edgewise(topology, app)
    objs = baseline_objects(topology, app, strategy)
    return StrategyObjects(
        strategy,
        _SUMMARIES[strategy],
        tuple(objs),
        entry_policy="own-zone",
        service_of=_service_of(objs),
    )
