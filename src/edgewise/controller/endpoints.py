"""Edge-aware endpoints: which Ready pods an edge zone's Service may send traffic to.

An edge zone's copy of a service is a *selectorless* Service (Kubernetes does not fill
its endpoints); the controller writes one EndpointSlice for it, chosen in tiers by the
network model (:func:`edgewise.topology.link_between`):

1. the zone's own Ready pods;
2. when none is Ready: the Region's Ready pods (edge zone <-> parent Region, service link);
3. Outposts with ``outpostIntraVpc``: when neither has a Ready pod, the other Outposts'
   Ready pods (local gateway). Without it an Outpost is a spoke like any edge zone.

A pod in a zone the service's zone cannot reach (a sibling Local or Wavelength Zone) is
never an endpoint, whatever its readiness. That is the difference with
``trafficDistribution: PreferClose``, whose fallback is every endpoint of the cluster
(https://kubernetes.io/docs/reference/networking/virtual-ips/#traffic-distribution).

Everything here is pure and deterministic: the index keeps, per selector, the Ready pods
of each zone, and a readiness change re-selects only the Services that share that pod's
selector. Writing the result to the API is the operator's job (:mod:`.operator`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..plan.endpoints import (
    ENDPOINTS_ANNOTATION,
    ENDPOINTS_MODE,
    MANAGED_BY,
    SELECTOR_ANNOTATION,
    TIER_SOURCES,
    ZONE_ANNOTATION,
    format_selector,
    parse_selector,
    tier_of,
)
from ..plan.labels import K8S_ZONE_LABEL, ROLE_LABEL, ZONE_LABEL, ZONE_TYPE_LABEL
from ..spec import ZoneType
from ..topology import Link, link_between

__all__ = [
    "ENDPOINTS_ANNOTATION",
    "ENDPOINTS_MODE",
    "MANAGED_BY",
    "SELECTOR_ANNOTATION",
    "SOURCE_ANNOTATION",
    "ZONE_ANNOTATION",
    "EndpointIndex",
    "ManagedService",
    "PodInfo",
    "Selection",
    "ZoneMap",
    "endpoint_slice",
    "format_selector",
    "managed_service",
    "parse_selector",
    "pod_info",
    "select",
    "zone_of_node",
]

#: on an EndpointSlice the controller wrote: which tier its endpoints came from
SOURCE_ANNOTATION = "edgewise.dev/endpoint-source"
SERVICE_NAME_LABEL = "kubernetes.io/service-name"
MANAGED_BY_LABEL = "endpointslice.kubernetes.io/managed-by"
MAX_ENDPOINTS_PER_SLICE = 1000  # the API's limit per EndpointSlice

Selector = tuple[tuple[str, str], ...]


def _matches(sel: Selector, labels: Mapping[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in sel)


@dataclass(frozen=True)
class ZoneMap:
    """The zones the controller knows from node labels, and how they connect."""

    kinds: Mapping[str, ZoneType]  # topology zone name -> kind
    k8s_zones: Mapping[str, str]  # topology zone name -> topology.kubernetes.io/zone
    outpost_intra_vpc: bool = False

    def link(self, a: str, b: str) -> str:
        ka, kb = self.kinds.get(a), self.kinds.get(b)
        if ka is None or kb is None:
            return Link.SAME_ZONE if a == b else Link.NONE  # unknown zone: only itself
        return link_between(a, ka, b, kb, outpost_intra_vpc=self.outpost_intra_vpc)


def zone_of_node(labels: Mapping[str, str]) -> tuple[str, ZoneType, str] | None:
    """(topology zone, kind, Kubernetes zone) of a node from its labels; None if unlabelled.

    Nodes edgewise planned carry ``edgewise.dev/zone`` and ``edgewise.dev/zone-type``
    (:mod:`edgewise.plan.labels`); without the type, ``edgewise.dev/role=region`` means an
    Availability Zone and anything else is treated as a Local Zone (a spoke).
    """
    k8s_zone = labels.get(K8S_ZONE_LABEL, "")
    zone = labels.get(ZONE_LABEL) or k8s_zone
    if not zone:
        return None
    try:
        kind = ZoneType(labels.get(ZONE_TYPE_LABEL, ""))
    except ValueError:
        kind = ZoneType.AVAILABILITY_ZONE if labels.get(ROLE_LABEL) == "region" else ZoneType.LOCAL
    return zone, kind, k8s_zone or zone


@dataclass(frozen=True)
class PodInfo:
    namespace: str
    name: str
    uid: str
    ip: str
    node: str
    ready: bool
    labels: tuple[tuple[str, str], ...]

    @property
    def key(self) -> tuple[str, str]:
        return self.namespace, self.name


def pod_info(pod: Mapping[str, Any]) -> PodInfo:
    """The fields of a Pod object the controller needs (Ready: condition Ready=True, not
    terminating, with an IP)."""
    meta = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    status = pod.get("status") or {}
    ready = any(
        c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or ()
    )
    ip = str(status.get("podIP") or "")
    return PodInfo(
        namespace=str(meta.get("namespace") or ""),
        name=str(meta.get("name") or ""),
        uid=str(meta.get("uid") or ""),
        ip=ip,
        node=str(spec.get("nodeName") or ""),
        ready=ready and bool(ip) and not meta.get("deletionTimestamp"),
        labels=tuple(sorted((meta.get("labels") or {}).items())),
    )


@dataclass(frozen=True)
class ManagedService:
    namespace: str
    name: str
    zone: str
    selector: Selector
    ports: tuple[tuple[str, int], ...]  # (port name, target port number)

    @property
    def key(self) -> tuple[str, str]:
        return self.namespace, self.name


def managed_service(svc: Mapping[str, Any]) -> ManagedService | None:
    """The Service as the controller manages it; None if it is not handed to edgewise.

    Raises ValueError with a fix when the annotations are there but unusable.
    """
    meta = svc.get("metadata") or {}
    ann = meta.get("annotations") or {}
    if ann.get(ENDPOINTS_ANNOTATION) != ENDPOINTS_MODE:
        return None
    where = f"Service {meta.get('namespace')}/{meta.get('name')}"
    spec = svc.get("spec") or {}
    if spec.get("selector"):
        raise ValueError(f"{where}: has spec.selector, so Kubernetes manages its endpoints; "
                         f"remove the selector to hand them to edgewise ({SELECTOR_ANNOTATION})")
    zone = str(ann.get(ZONE_ANNOTATION) or "")
    if not zone:
        raise ValueError(f"{where}: annotation {ZONE_ANNOTATION} is missing; set it to the zone of this copy")
    try:
        sel = parse_selector(str(ann.get(SELECTOR_ANNOTATION) or ""))
    except ValueError as exc:
        raise ValueError(f"{where}: annotation {SELECTOR_ANNOTATION}: {exc}; "
                         "write the copies' pod labels as key=value,key=value") from None
    ports: list[tuple[str, int]] = []
    for p in spec.get("ports") or ():
        target = p.get("targetPort", p.get("port"))
        if not isinstance(target, int):
            raise ValueError(f"{where}: port {p.get('name')!r} has targetPort {target!r}; a Service without "
                             "selector needs a numeric targetPort (the pods' container port)")
        ports.append((str(p.get("name") or ""), target))
    return ManagedService(str(meta.get("namespace")), str(meta.get("name")), zone, sel, tuple(ports))


@dataclass(frozen=True)
class Selection:
    """The endpoints chosen for one Service: the tier they came from and the pods."""

    source: str  # zone | region | outpost | none
    pods: tuple[PodInfo, ...]  # sorted by IP

    @property
    def ips(self) -> tuple[str, ...]:
        return tuple(p.ip for p in self.pods)




def select(zone: str, ready_by_zone: Mapping[str, Iterable[PodInfo]], zones: ZoneMap) -> Selection:
    """The first tier with a Ready pod, from the Ready pods of each zone (see module doc).

    A Region-zone service gets its own zone, then the other AZs (Region mesh); no zone
    ever gets a pod in a zone it cannot reach.
    """
    best: dict[int, list[PodInfo]] = {}
    for z, pods in ready_by_zone.items():
        tier = tier_of(zones.link(zone, z))
        if tier is None:
            continue
        bucket = [p for p in pods if p.ready]
        if bucket:
            best.setdefault(tier, []).extend(bucket)
    if not best:
        return Selection("none", ())
    tier = min(best)
    return Selection(TIER_SOURCES[tier], tuple(sorted(best[tier], key=lambda p: (_ip_key(p.ip), p.name))))


def _ip_key(ip: str) -> tuple[int, ...]:
    try:
        return tuple(int(x) for x in ip.split("."))
    except ValueError:
        return (1 << 16,)


def endpoint_slice(svc: ManagedService, sel: Selection, zones: ZoneMap, node_zone: Mapping[str, str],
                   *, index: int = 0) -> dict[str, Any]:
    """The EndpointSlice object for ``svc`` (deterministic; one slice up to 1000 endpoints)."""
    pods = sel.pods[index * MAX_ENDPOINTS_PER_SLICE:(index + 1) * MAX_ENDPOINTS_PER_SLICE]
    endpoints = []
    for p in pods:
        ep: dict[str, Any] = {
            "addresses": [p.ip],
            "conditions": {"ready": True, "serving": True, "terminating": False},
            "nodeName": p.node,
        }
        z = node_zone.get(p.node)
        if z is not None:
            ep["zone"] = zones.k8s_zones.get(z, z)
        ep["targetRef"] = {"kind": "Pod", "namespace": p.namespace, "name": p.name, "uid": p.uid}
        endpoints.append(ep)
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "name": f"{svc.name}-edgewise" + (f"-{index}" if index else ""),
            "namespace": svc.namespace,
            "labels": {MANAGED_BY_LABEL: MANAGED_BY, SERVICE_NAME_LABEL: svc.name},
            "annotations": {SOURCE_ANNOTATION: sel.source},
        },
        "addressType": "IPv4",
        "endpoints": endpoints,
        "ports": [{"name": n, "port": port, "protocol": "TCP"} for n, port in svc.ports],
    }


@dataclass
class _Group:
    """Every managed Service with one selector, and the pods that selector matches."""

    services: dict[tuple[str, str], ManagedService] = field(default_factory=dict)
    pods: dict[tuple[str, str], PodInfo] = field(default_factory=dict)
    by_zone: dict[str, dict[tuple[str, str], PodInfo]] = field(default_factory=dict)


class EndpointIndex:
    """Incremental state: nodes, pods and managed Services -> each Service's Selection.

    Every ``on_*`` method returns the Services whose selection changed (with the new
    selection), so the caller writes exactly those EndpointSlices and nothing else.
    """

    def __init__(self, *, outpost_intra_vpc: bool = False) -> None:
        self.outpost_intra_vpc = outpost_intra_vpc
        self.node_zone: dict[str, str] = {}
        self.kinds: dict[str, ZoneType] = {}
        self.k8s_zones: dict[str, str] = {}
        self.groups: dict[Selector, _Group] = {}
        self.service_group: dict[tuple[str, str], Selector] = {}
        self.published: dict[tuple[str, str], Selection] = {}
        self.pod_sel: dict[tuple[str, str], tuple[Selector, ...]] = {}
        self._zones = self._zone_map()

    def _zone_map(self) -> ZoneMap:
        return ZoneMap(dict(self.kinds), dict(self.k8s_zones), self.outpost_intra_vpc)

    @property
    def zones(self) -> ZoneMap:
        return self._zones

    # -- nodes ------------------------------------------------------------------------
    def on_node(self, name: str, labels: Mapping[str, str] | None) -> list[tuple[ManagedService, Selection]]:
        """A node appeared, changed (labels) or went away (``labels=None``).

        A zone's kind stays known after its last node goes: its pods are gone, but a
        Service of that zone keeps pointing at the Region until the fan-out removes it.
        """
        got = zone_of_node(labels) if labels is not None else None
        before = self.node_zone.get(name)
        if got is None:
            self.node_zone.pop(name, None)
        else:
            zone, kind, k8s = got
            self.node_zone[name] = zone
            self.kinds[zone] = kind
            self.k8s_zones[zone] = k8s
        if before == (got[0] if got else None):
            return []
        self._zones = self._zone_map()
        # pods on that node move zone: rebuild the zone buckets of every group
        for g in self.groups.values():
            g.by_zone = {}
            for p in g.pods.values():
                self._bucket(g, p)
        return self.reselect_all()

    # -- pods ---------------------------------------------------------------------------
    def _bucket(self, g: _Group, p: PodInfo) -> None:
        z = self.node_zone.get(p.node)
        if z is not None:
            g.by_zone.setdefault(z, {})[p.key] = p

    def _unbucket(self, g: _Group, p: PodInfo) -> None:
        for bucket in g.by_zone.values():
            bucket.pop(p.key, None)

    def on_pod(self, pod: PodInfo | None, key: tuple[str, str] | None = None) -> list[tuple[ManagedService, Selection]]:
        """A pod was added/changed (``pod``) or deleted (``pod=None, key=(ns, name)``)."""
        k = pod.key if pod is not None else key
        assert k is not None
        touched: set[Selector] = set()
        old_pod: PodInfo | None = None
        for sel in self.pod_sel.pop(k, ()):
            g = self.groups.get(sel)
            if g is not None and k in g.pods:
                old_pod = g.pods.pop(k)
                self._unbucket(g, old_pod)
                touched.add(sel)
        if pod is not None:
            labels = dict(pod.labels)
            mine = tuple(sel for sel in self.groups if _matches(sel, labels))
            if mine:
                self.pod_sel[k] = mine
            for sel in mine:
                g = self.groups[sel]
                g.pods[k] = pod
                self._bucket(g, pod)
                touched.add(sel)
        # only Services whose zone can reach the pod's zone can change selection
        pod_zones = {self.node_zone.get(pod.node) if pod is not None else None}
        if old_pod is not None:
            pod_zones.add(self.node_zone.get(old_pod.node))
        out: list[tuple[ManagedService, Selection]] = []
        for sel in sorted(touched):
            out.extend(self._reselect(self.groups[sel], near={z for z in pod_zones if z is not None}))
        return out

    # -- services -----------------------------------------------------------------------
    def on_service(self, svc: ManagedService | None, key: tuple[str, str] | None = None,
                   pods: Iterable[PodInfo] = ()) -> list[tuple[ManagedService, Selection]]:
        """A managed Service was added/changed, or deleted (``svc=None, key=...``).

        ``pods`` are the cluster's pods, needed when the Service brings a new selector.
        """
        k = svc.key if svc is not None else key
        assert k is not None
        old = self.service_group.pop(k, None)
        if old is not None:
            g = self.groups[old]
            g.services.pop(k, None)
            if not g.services:
                for pk in g.pods:
                    rest = tuple(s for s in self.pod_sel.get(pk, ()) if s != old)
                    if rest:
                        self.pod_sel[pk] = rest
                    else:
                        self.pod_sel.pop(pk, None)
                del self.groups[old]
        self.published.pop(k, None)
        if svc is None:
            return []
        found = self.groups.get(svc.selector)
        if found is None:
            g = self.groups[svc.selector] = _Group()
            for p in pods:
                if _matches(svc.selector, dict(p.labels)):
                    g.pods[p.key] = p
                    self.pod_sel[p.key] = (*self.pod_sel.get(p.key, ()), svc.selector)
                    self._bucket(g, p)
        else:
            g = found
        g.services[k] = svc
        self.service_group[k] = svc.selector
        return self._reselect(g, only=k)

    # -- selection ---------------------------------------------------------------------
    def _reselect(self, g: _Group, only: tuple[str, str] | None = None,
                  near: set[str] | None = None) -> list[tuple[ManagedService, Selection]]:
        out = []
        targets = [g.services[only]] if only is not None else list(g.services.values())
        if near is not None:
            zm = self._zones
            targets = [s for s in targets if any(zm.link(s.zone, z) != Link.NONE for z in near)]
        for svc in sorted(targets, key=lambda s: s.key):
            sel = select(svc.zone, {z: b.values() for z, b in g.by_zone.items()}, self._zones)
            if self.published.get(svc.key) != sel:
                self.published[svc.key] = sel
                out.append((svc, sel))
        return out

    def reselect_all(self) -> list[tuple[ManagedService, Selection]]:
        out = []
        for sel in sorted(self.groups):
            out.extend(self._reselect(self.groups[sel]))
        return out

    def slices(self, svc: ManagedService) -> list[dict[str, Any]]:
        """The EndpointSlices that publish ``svc``'s current selection."""
        sel = self.published.get(svc.key, Selection("none", ()))
        n = max(1, -(-len(sel.pods) // MAX_ENDPOINTS_PER_SLICE))
        return [endpoint_slice(svc, sel, self._zones, self.node_zone, index=i) for i in range(n)]
