"""The controller's state machine, apart from any framework or API client.

:class:`Controller` takes watch events (nodes, pods, Services, EdgeApplications) as
plain dicts and tells an :class:`Api` what to write. kopf feeds it in the cluster
(:mod:`.operator`); tests and the benchmark feed it directly. One lock serialises the
events: kopf runs synchronous handlers in a thread pool.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, Protocol

from ..plan.labels import K8S_ZONE_LABEL
from ..spec import ZoneType
from .endpoints import EndpointIndex, ManagedService, PodInfo, Selection, managed_service, pod_info, zone_of_node
from .fanout import DEFAULT_GRACE, Fanout, fan_out, parse_application
from .writer import SliceWriter

__all__ = ["Api", "Controller", "NoRegionYet", "region_of"]

REGION_LABEL = "topology.kubernetes.io/region"
log = logging.getLogger("edgewise.controller")


class NoRegionYet(Exception):
    """The EdgeApplication cannot be fanned out before a Region node is known."""


class Api(Protocol):
    """What the controller writes. Implementations: the Kubernetes API (:mod:`.operator`),
    a recorder in tests."""

    def apply(self, obj: Mapping[str, Any]) -> None: ...

    def delete(self, api_version: str, kind: str, namespace: str, name: str) -> None: ...

    def owned(self, app: str) -> list[tuple[str, str, str, str]]:
        """(apiVersion, kind, namespace, name) of every object made for ``app``."""
        ...

    def patch_status(self, name: str, status: Mapping[str, Any]) -> None: ...

    def event(self, service: ManagedService, selection: Selection) -> None: ...


def region_of(node_labels: Mapping[str, Mapping[str, str]]) -> str:
    """The Region: the nodes' topology.kubernetes.io/region, else an AZ name minus its letter."""
    for labels in node_labels.values():
        if labels.get(REGION_LABEL):
            return labels[REGION_LABEL]
    for labels in node_labels.values():
        z = labels.get(K8S_ZONE_LABEL, "")
        if z[-1:].isalpha() and z[:-1][-1:].isdigit():
            return z[:-1]
    return "region"


#: what the slice writer carries per Service: the Service, its selection, its slices
_Payload = tuple[ManagedService, Selection, list[dict[str, Any]]]


class Controller:
    """``write_workers=0`` writes each changed Service's EndpointSlices inside the event
    (tests, the in-memory benchmark); ``write_workers=N`` hands them to a
    :class:`~.writer.SliceWriter` of N threads (the operator): a burst of changes is
    written concurrently, the latest state of each Service only."""

    def __init__(self, api: Api, *, outpost_intra_vpc: bool = False, grace: timedelta = DEFAULT_GRACE,
                 write_workers: int = 0) -> None:
        self.api = api
        self.grace = grace
        self.index = EndpointIndex(outpost_intra_vpc=outpost_intra_vpc)
        self.pods: dict[tuple[str, str], PodInfo] = {}
        self.nodes: dict[str, dict[str, str]] = {}
        self.seen_kinds: dict[str, ZoneType] = {}
        self.services: dict[tuple[str, str], ManagedService] = {}
        self.errors: dict[tuple[str, str], str] = {}  # misconfigured Services
        self.failed: dict[tuple[str, str], str] = {}  # Services whose slice write failed
        self.lock = threading.RLock()
        self.writer: SliceWriter[tuple[str, str], _Payload] | None = (
            SliceWriter(self._write, self._written, workers=write_workers) if write_workers else None)

    # -- endpoints ------------------------------------------------------------------------
    def _write(self, key: tuple[str, str], payload: _Payload) -> None:
        for obj in payload[2]:
            self.api.apply(obj)

    def _written(self, key: tuple[str, str], payload: _Payload, error: Exception | None) -> None:
        svc, sel, _ = payload
        with self.lock:
            if error is None:
                self.failed.pop(key, None)
            else:  # retried by retry_failed()
                self.failed[key] = str(error)
        if error is None:
            self.api.event(svc, sel)
        else:
            log.warning("EndpointSlice of %s/%s not written: %s", svc.namespace, svc.name, error)

    def _publish(self, changed: list[tuple[ManagedService, Selection]]) -> int:
        for svc, sel in changed:
            if self.writer is not None:
                self.writer.submit(svc.key, (svc, sel, self.index.slices(svc)))
                continue
            try:
                for obj in self.index.slices(svc):
                    self.api.apply(obj)
            except Exception as exc:  # the API refused or is away: retried by retry_failed()
                self.failed[svc.key] = str(exc)
                log.warning("EndpointSlice of %s/%s not written: %s", svc.namespace, svc.name, exc)
                continue
            self.failed.pop(svc.key, None)
            self.api.event(svc, sel)
        return len(changed)

    def retry_failed(self) -> int:
        """Write again the slices whose last write failed (called periodically)."""
        with self.lock:
            todo = [(self.services[k], self.index.published[k]) for k in sorted(self.failed)
                    if k in self.services and k in self.index.published]
            return self._publish(todo)

    def node_event(self, kind: str, node: Mapping[str, Any]) -> int:
        meta = node.get("metadata") or {}
        name = str(meta.get("name") or "")
        with self.lock:
            if kind == "DELETED":
                self.nodes.pop(name, None)
                return self._publish(self.index.on_node(name, None))
            labels = dict(meta.get("labels") or {})
            self.nodes[name] = labels
            got = zone_of_node(labels)
            if got is not None:
                self.seen_kinds[got[0]] = got[1]
            return self._publish(self.index.on_node(name, labels))

    def pod_event(self, kind: str, pod: Mapping[str, Any]) -> int:
        info = pod_info(pod)
        with self.lock:
            if kind == "DELETED":
                self.pods.pop(info.key, None)
                return self._publish(self.index.on_pod(None, info.key))
            if self.pods.get(info.key) == info:
                return 0
            self.pods[info.key] = info
            return self._publish(self.index.on_pod(info))

    def service_event(self, kind: str, svc: Mapping[str, Any]) -> int:
        meta = svc.get("metadata") or {}
        key = (str(meta.get("namespace") or ""), str(meta.get("name") or ""))
        with self.lock:
            try:
                managed = None if kind == "DELETED" else managed_service(svc)
            except ValueError as exc:
                self.errors[key] = str(exc)
                managed = None
            else:
                self.errors.pop(key, None)
            if managed is None:
                if key in self.services:
                    del self.services[key]
                    self.index.on_service(None, key)
                return 0
            if self.services.get(key) == managed:
                return 0
            self.services[key] = managed
            return self._publish(self.index.on_service(managed, pods=self.pods.values()))

    # -- EdgeApplication fan-out ----------------------------------------------------------------
    def ready_pods(self) -> dict[tuple[str, str], int]:
        """(namespace, Deployment name) -> Ready pods (pods carry app.kubernetes.io/name)."""
        out: dict[tuple[str, str], int] = {}
        for p in self.pods.values():
            if p.ready:
                name = dict(p.labels).get("app.kubernetes.io/name", "")
                out[(p.namespace, name)] = out.get((p.namespace, name), 0) + 1
        return out

    def reconcile_app(self, body: Mapping[str, Any], now: datetime) -> Fanout:
        """Fan the EdgeApplication ``body`` out; raises pydantic ValidationError on a bad spec."""
        meta = body.get("metadata") or {}
        name = str(meta.get("name") or "")
        app = parse_application(name, body.get("spec") or {})
        status = body.get("status") or {}
        previous = {str(z.get("zone")): z.get("missingSince") for z in status.get("zones") or ()
                    if z.get("zone") != "region"}
        with self.lock:
            zones: dict[str, ZoneType] = {}
            k8s: dict[str, str] = {}
            for labels in self.nodes.values():
                got = zone_of_node(labels)
                if got is not None:
                    zones[got[0]] = got[1]
                    k8s[got[0]] = got[2]
            # every Region AZ ever seen stays: the Region copy's affinity lists the AZs, and
            # an AZ node group scaled to zero must not roll the Region copy
            zones.update({z: k for z, k in self.seen_kinds.items() if k is ZoneType.AVAILABILITY_ZONE})
            if not any(k is ZoneType.AVAILABILITY_ZONE for k in zones.values()):
                # before the node watch has listed the Region's nodes (or in a cluster
                # without any): nothing to pin the Region copies to; wait
                raise NoRegionYet("no Region node seen yet (labels edgewise.dev/zone-type=availability-zone "
                                  "or edgewise.dev/role=region); the copies wait for one")
            result = fan_out(
                app, region=region_of(self.nodes), zones=zones, k8s_zones=k8s, previous=previous,
                ready_pods=self.ready_pods(), now=now, grace=self.grace,
                outpost_intra_vpc=self.index.outpost_intra_vpc,
                owner={"name": name, "uid": str(meta.get("uid") or "")},
                remembered_kinds=self.seen_kinds,
            )
        want = {(o["apiVersion"], o["kind"], o["metadata"].get("namespace", ""), o["metadata"]["name"])
                for o in result.objects}
        for obj in result.objects:
            self.api.apply(obj)
        for ref in sorted(set(self.api.owned(name)) - want, key=lambda r: (r[1] == "Namespace", r)):
            self.api.delete(*ref)
        self.api.patch_status(name, result.status(now, meta.get("generation")))
        return result
