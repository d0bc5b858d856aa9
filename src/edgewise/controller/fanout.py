"""Fan-out of an ``EdgeApplication``: its copies in every zone whose nodes appear.

The resource's ``spec`` is the spec's own ``Application.spec`` (same service model, same
validation). The zones are not declared: they are the zones of the cluster's nodes
(``edgewise.dev/zone`` / ``edgewise.dev/zone-type`` labels, :mod:`edgewise.plan.labels`).
The objects are exactly what ``edgewise plan`` writes for that application with
``routing: kubernetes`` on a topology of those zones (the planner is reused, not copied),
minus the ALB Ingress (it needs subnets the cluster cannot tell).

A zone whose nodes go away keeps its copies for a grace period (a node group scaled to
zero for maintenance, an Outpost link flapping) and loses them after it; the per-zone
status says which.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from ..plan.apps import plan_application
from ..plan.apps.names import REGION_SITE, region_namespace, zone_namespace
from ..plan.apps.workloads import PART_OF_LABEL
from ..spec import Application, EndpointAccess, IngressKind, Routing, ZoneType
from ..topology import Topology, Zone

__all__ = [
    "APP_LABEL",
    "FIELD_MANAGER",
    "Fanout",
    "ZoneStatus",
    "desired_objects",
    "fan_out",
    "parse_application",
    "topology_from_zones",
    "zone_windows",
]

#: on every object the fan-out creates: the EdgeApplication it belongs to
APP_LABEL = "edgewise.dev/edge-application"
FIELD_MANAGER = "edgewise-controller"
DEFAULT_GRACE = timedelta(minutes=10)


def parse_application(name: str, spec: Mapping[str, Any]) -> Application:
    """The resource as a spec Application; pydantic ValidationError on a bad spec."""
    app = Application.model_validate(
        {"apiVersion": "edgewise.dev/v1alpha1", "kind": "Application", "metadata": {"name": name}, "spec": dict(spec)}
    )
    # the controller is the kubernetes backend; the ALB needs subnets it cannot know
    return app.model_copy(update={"spec": app.spec.model_copy(update={"routing": Routing.KUBERNETES,
                                                                      "ingress": IngressKind.NONE})})


def topology_from_zones(region: str, zones: Mapping[str, ZoneType], k8s_zones: Mapping[str, str],
                        *, outpost_intra_vpc: bool) -> Topology:
    """A Topology of the zones the nodes show (names and kinds; no geography, no subnets)."""
    out = []
    for i, name in enumerate(sorted(zones)):
        kind = zones[name]
        out.append(Zone(
            name=name, kind=kind, index=i, region=region, group=None, network_border_group=region,
            metro="", lat=0.0, lon=0.0, location_known=False, subnet_cidr=None, subnet_id=None,
            node_group=None, carrier_ip=False,
            parent_zone=k8s_zones.get(name) if kind is ZoneType.OUTPOST else None,
        ))
    return Topology(
        name="cluster", region=region, region_metro="", region_lat=0.0, region_lon=0.0,
        kubernetes_version="1.31", endpoint_access=EndpointAccess.PRIVATE, vpc_cidr=None, vpc_id=None,
        zones=tuple(out), outpost_intra_vpc=outpost_intra_vpc, public_subnets=(),
    )


def desired_objects(app: Application, topology: Topology,
                    owner: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
    """The objects of ``app`` on ``topology``: plan's output, labelled (and owned) by the resource."""
    plan = plan_application(topology, app)
    out: list[dict[str, Any]] = []
    for a in plan.artifacts:
        if a.docs is None or not a.path.endswith(".yaml") or a.path.endswith(("kustomization.yaml", ".cfn.yaml")):
            continue
        for d in a.docs:
            obj = {**d, "metadata": {**d["metadata"]}}
            obj["metadata"]["labels"] = {**obj["metadata"].get("labels", {}), APP_LABEL: app.metadata.name}
            if owner is not None:
                obj["metadata"]["ownerReferences"] = [{
                    "apiVersion": "edgewise.dev/v1alpha1", "kind": "EdgeApplication",
                    "name": owner["name"], "uid": owner["uid"], "controller": True, "blockOwnerDeletion": True,
                }]
            out.append(obj)
    # apply order: namespaces before what lives in them
    order = {"Namespace": 0, "ServiceAccount": 1, "Service": 2}
    return sorted(out, key=lambda o: order.get(o["kind"], 3))


def zone_windows(present: Iterable[str], previous: Mapping[str, str | None], now: datetime,
                 grace: timedelta) -> tuple[dict[str, str | None], list[str]]:
    """Which zones keep their copies.

    ``previous``: zone -> ISO time it went missing (None: present) from the last status.
    Returns (zone -> missing-since for every zone kept, zones removed now). A zone present
    now is kept; one that went missing is kept until ``grace`` has passed.
    """
    here = set(present)
    kept: dict[str, str | None] = {z: None for z in here}
    removed: list[str] = []
    for z, since in previous.items():
        if z in here:
            continue
        start = datetime.fromisoformat(since) if since else now
        if now - start < grace:
            kept[z] = start.isoformat()
        else:
            removed.append(z)
    return dict(sorted(kept.items())), sorted(removed)


@dataclass(frozen=True)
class ZoneStatus:
    zone: str
    kind: ZoneType
    namespace: str
    ready: bool
    reason: str
    message: str
    missing_since: str | None

    def as_status(self, now: str) -> dict[str, Any]:
        out: dict[str, Any] = {"zone": self.zone, "kind": self.kind.value, "namespace": self.namespace}
        if self.missing_since:
            out["missingSince"] = self.missing_since
        out["conditions"] = [{
            "type": "Ready", "status": "True" if self.ready else "False", "reason": self.reason,
            "message": self.message, "lastTransitionTime": now,
        }]
        return out


@dataclass(frozen=True)
class Fanout:
    objects: list[dict[str, Any]]
    zones: list[ZoneStatus]
    removed: list[str]

    def status(self, now: datetime, generation: int | None = None) -> dict[str, Any]:
        stamp = now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        ready = sum(1 for z in self.zones if z.ready)
        out: dict[str, Any] = {
            "ready": f"{ready}/{len(self.zones)}",
            "zonesReady": ready,
            "zonesTotal": len(self.zones),
        }
        if generation is not None:
            out["observedGeneration"] = generation
        out["conditions"] = [{
            "type": "Ready",
            "status": "True" if self.zones and ready == len(self.zones) else "False",
            "reason": "AllZonesReady" if self.zones and ready == len(self.zones) else "ZonesNotReady",
            "message": f"{ready} of {len(self.zones)} zones have a Ready pod for every copy",
            "lastTransitionTime": stamp,
        }]
        out["zones"] = [z.as_status(stamp) for z in self.zones]
        return out


def fan_out(app: Application, *, region: str, zones: Mapping[str, ZoneType], k8s_zones: Mapping[str, str],
            previous: Mapping[str, str | None], ready_pods: Mapping[tuple[str, str], int], now: datetime,
            grace: timedelta = DEFAULT_GRACE, outpost_intra_vpc: bool = False,
            owner: Mapping[str, str] | None = None,
            remembered_kinds: Mapping[str, ZoneType] | None = None) -> Fanout:
    """Everything one reconcile of an EdgeApplication decides.

    ``zones``: zones whose nodes exist now (name -> kind); ``previous``: last status's
    zone -> missing-since; ``ready_pods``: (namespace, service) -> Ready pods;
    ``remembered_kinds``: kinds of zones seen before (a zone without nodes has no labels
    left to tell its kind).
    """
    kinds = {**(remembered_kinds or {}), **zones}
    kept, removed = zone_windows(zones, previous, now, grace)
    kept_kinds = {z: kinds[z] for z in kept if z in kinds}
    topology = topology_from_zones(region, kept_kinds, k8s_zones, outpost_intra_vpc=outpost_intra_vpc)
    objects = desired_objects(app, topology, owner)
    statuses: list[ZoneStatus] = []
    services: dict[str, list[str]] = {}
    for o in objects:
        if o["kind"] == "Deployment":
            services.setdefault(o["metadata"]["namespace"], []).append(o["metadata"]["name"])
    name = app.metadata.name
    sites: list[tuple[str, ZoneType, str, str | None]] = [
        (z.name, z.kind, zone_namespace(name, z), kept[z.name]) for z in topology.edge_zones
    ]
    if topology.region_zones:
        # the Region copy spreads over every AZ: one entry, missing only when all AZs are
        gone = [kept[z.name] for z in topology.region_zones]
        since = None if any(g is None for g in gone) else min(g for g in gone if g is not None)
        sites.append((REGION_SITE, ZoneType.AVAILABILITY_ZONE, region_namespace(name), since))
    for z, kind, ns, missing in sites:
        wanted = sorted(services.get(ns, []))
        not_ready = [s for s in wanted if ready_pods.get((ns, s), 0) == 0]
        if missing:
            statuses.append(ZoneStatus(z, kind, ns, False, "NodesGone",
                                       f"no nodes since {missing}; copies removed after {int(grace.total_seconds())} s",
                                       missing))
        elif not wanted:
            statuses.append(ZoneStatus(z, kind, ns, True, "NoCopies", "no service runs in this zone", None))
        elif not_ready:
            failover = " (callers fail over to the Region)" if z != REGION_SITE else ""
            statuses.append(ZoneStatus(z, kind, ns, False, "CopiesNotReady",
                                       "no Ready pod: " + ", ".join(not_ready) + failover, None))
        else:
            statuses.append(ZoneStatus(z, kind, ns, True, "AllCopiesReady",
                                       f"{len(wanted)} copies with Ready pods", None))
    return Fanout(objects, statuses, removed)


def part_of(app: str) -> dict[str, str]:
    """Labels that find every object the fan-out made for ``app``."""
    return {PART_OF_LABEL: app, APP_LABEL: app}
