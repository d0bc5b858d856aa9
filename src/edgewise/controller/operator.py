"""The controller in the cluster: kopf handlers over :class:`.state.Controller`, writes
through the Kubernetes API, one leader among the replicas.

kopf watches nodes, pods, Services and EdgeApplications and calls the handlers below.
kopf's own peering would freeze replicas of equal priority
(https://docs.kopf.dev/en/latest/peering/), so the replicas elect a leader with a
coordination.k8s.io Lease, like the Kubernetes controllers do, and only the leader runs
kopf (standalone, no peering objects). A leader that cannot renew its Lease exits, and
the Deployment restarts it as a candidate.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import threading
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from ..plan.cluster.controller import CRD_GROUP, CRD_PLURAL, CRD_VERSION
from .endpoints import ManagedService, Selection
from .fanout import APP_LABEL, FIELD_MANAGER
from .state import Controller, NoRegionYet

__all__ = ["KubeApi", "LeaseElector", "run"]

log = logging.getLogger("edgewise.controller")

#: kinds the fan-out owns, for pruning (apiVersion, kind)
OWNED_KINDS = (
    ("v1", "Service"),
    ("apps/v1", "Deployment"),
    ("policy/v1", "PodDisruptionBudget"),
    ("v1", "ServiceAccount"),
    ("v1", "Namespace"),
)


class KubeApi:
    """:class:`.state.Api` over the Kubernetes API (server-side apply, field manager
    ``edgewise-controller``)."""

    def __init__(self, api_client: Any = None, *, connections: int = 0) -> None:
        from kubernetes import client, config, dynamic

        if api_client is None:
            try:
                config.load_incluster_config()  # type: ignore[no-untyped-call]
            except config.ConfigException:
                config.load_kube_config()  # type: ignore[no-untyped-call]
            cfg = client.Configuration.get_default_copy()
            # one pooled connection per concurrent slice writer (urllib3 would otherwise
            # open and drop extra connections beyond its pool size under a burst)
            cfg.connection_pool_maxsize = max(cfg.connection_pool_maxsize or 1, connections)
            api_client = client.ApiClient(cfg)
        self.client = api_client
        self.dynamic = dynamic.DynamicClient(api_client)  # type: ignore[no-untyped-call]
        self.events = client.EventsV1Api(api_client)
        self._resources: dict[tuple[str, str], Any] = {}

    def _resource(self, api_version: str, kind: str) -> Any:
        key = (api_version, kind)
        if key not in self._resources:
            self._resources[key] = self.dynamic.resources.get(api_version=api_version, kind=kind)
        return self._resources[key]

    def apply(self, obj: Mapping[str, Any]) -> None:
        res = self._resource(obj["apiVersion"], obj["kind"])
        meta = obj["metadata"]
        res.server_side_apply(body=dict(obj), name=meta["name"], namespace=meta.get("namespace"),
                              field_manager=FIELD_MANAGER, force_conflicts=True)

    def delete(self, api_version: str, kind: str, namespace: str, name: str) -> None:
        from kubernetes.client.exceptions import ApiException

        try:
            self._resource(api_version, kind).delete(name=name, namespace=namespace or None)
        except ApiException as exc:
            if exc.status != 404:
                raise

    def owned(self, app: str) -> list[tuple[str, str, str, str]]:
        out = []
        for api_version, kind in OWNED_KINDS:
            items = self._resource(api_version, kind).get(label_selector=f"{APP_LABEL}={app}").items
            for o in items:
                out.append((api_version, kind, o.metadata.namespace or "", o.metadata.name))
        return out

    def patch_status(self, name: str, status: Mapping[str, Any]) -> None:
        res = self._resource(f"{CRD_GROUP}/{CRD_VERSION}", "EdgeApplication")
        res.status.patch(body={"status": dict(status)}, name=name, content_type="application/merge-patch+json")

    def event(self, service: ManagedService, selection: Selection) -> None:
        log.info("%s/%s: %d endpoints from %s", service.namespace, service.name, len(selection.pods),
                 selection.source)


class LeaseElector:
    """Leader election on a coordination.k8s.io/v1 Lease (acquire, renew, or exit)."""

    def __init__(self, namespace: str, name: str, identity: str, *, lease_seconds: int = 15,
                 renew_seconds: float = 5.0, api_client: Any = None) -> None:
        from kubernetes import client

        self.api = client.CoordinationV1Api(api_client)
        self.namespace, self.name, self.identity = namespace, name, identity
        self.lease_seconds, self.renew_seconds = lease_seconds, renew_seconds

    def _now(self) -> datetime:
        return datetime.now(UTC)

    def try_acquire(self) -> bool:
        """One attempt: take the Lease if it is free, expired or ours (optimistic concurrency)."""
        from kubernetes import client
        from kubernetes.client.exceptions import ApiException

        now = self._now()
        try:
            lease: Any = self.api.read_namespaced_lease(self.name, self.namespace)
        except ApiException as exc:
            if exc.status != 404:
                raise
            body = client.V1Lease(
                metadata=client.V1ObjectMeta(name=self.name, namespace=self.namespace),
                spec=client.V1LeaseSpec(holder_identity=self.identity, lease_duration_seconds=self.lease_seconds,
                                        acquire_time=now, renew_time=now, lease_transitions=0),
            )
            try:
                self.api.create_namespaced_lease(self.namespace, body)
                return True
            except ApiException as exc2:
                if exc2.status == 409:
                    return False
                raise
        spec = lease.spec
        renewed = spec.renew_time or spec.acquire_time
        duration = timedelta(seconds=spec.lease_duration_seconds or self.lease_seconds)
        expired = renewed is None or now - renewed > duration
        if spec.holder_identity not in (None, "", self.identity) and not expired:
            return False
        if spec.holder_identity != self.identity:
            spec.lease_transitions = (spec.lease_transitions or 0) + 1
            spec.acquire_time = now
        spec.holder_identity = self.identity
        spec.lease_duration_seconds = self.lease_seconds
        spec.renew_time = now
        try:
            self.api.replace_namespaced_lease(self.name, self.namespace, lease)  # carries resourceVersion
            return True
        except ApiException as exc:
            if exc.status == 409:
                return False
            raise

    def acquire(self) -> None:
        while not self.try_acquire():
            time.sleep(self.renew_seconds)
        log.info("leader: %s holds lease %s/%s", self.identity, self.namespace, self.name)

    def keep(self) -> threading.Thread:
        """Renew in the background; exit the process if the Lease is lost."""

        def loop() -> None:
            last = time.monotonic()
            while True:
                time.sleep(self.renew_seconds)
                try:
                    if self.try_acquire():
                        last = time.monotonic()
                        continue
                except Exception as exc:  # an API outage: keep trying until the lease runs out
                    log.warning("lease renewal failed: %s", exc)
                if time.monotonic() - last > self.lease_seconds:
                    log.error("lost the leader lease; exiting so another replica takes over")
                    os._exit(1)

        t = threading.Thread(target=loop, name="lease", daemon=True)
        t.start()
        return t


def register(controller: Controller, registry: Any, *, interval: float = 5.0) -> None:
    """kopf handlers feeding ``controller`` (stateless event handlers: nothing is written
    to the watched pods, nodes or Services)."""
    import kopf

    def node(event: Mapping[str, Any], **_: Any) -> None:
        controller.node_event(str(event.get("type")), event.get("object") or {})

    def pod(event: Mapping[str, Any], **_: Any) -> None:
        controller.pod_event(str(event.get("type")), event.get("object") or {})

    def service(event: Mapping[str, Any], **_: Any) -> None:
        controller.service_event(str(event.get("type")), event.get("object") or {})

    def reconcile(body: Mapping[str, Any]) -> None:
        from pydantic import ValidationError

        name = str((body.get("metadata") or {}).get("name"))
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        try:
            controller.reconcile_app(body, datetime.now(UTC))
        except NoRegionYet as exc:
            controller.api.patch_status(name, {"ready": "0/0", "conditions": [{
                "type": "Ready", "status": "False", "reason": "NoRegionNodes", "message": str(exc),
                "lastTransitionTime": stamp}]})
        except ValidationError as exc:
            controller.api.patch_status(name, {"conditions": [{
                "type": "Ready", "status": "False", "reason": "InvalidSpec",
                "message": "; ".join(f"spec.{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
                                     for e in exc.errors()),
                "lastTransitionTime": stamp}]})
        except Exception as exc:  # the API refused a write: the next round retries
            log.warning("EdgeApplication %s: %s", name, exc)

    seen_generation: dict[str, object] = {}

    def app(event: Mapping[str, Any], **_: Any) -> None:
        """EdgeApplication events: remember the latest body; reconcile at once when the
        spec changed (a status update of ours is an event too: those wait for the loop).
        A plain event handler puts no finalizer on the resource (kopf's timers do, and a
        finalizer nobody removes blocks deletion once the controller is gone)."""
        body = event.get("object") or {}
        name = str((body.get("metadata") or {}).get("name"))
        if event.get("type") == "DELETED":
            apps.pop(name, None)
            seen_generation.pop(name, None)
            return
        apps[name] = body
        generation = (body.get("metadata") or {}).get("generation")
        if seen_generation.get(name) != generation:
            seen_generation[name] = generation
            reconcile(body)

    def loop() -> None:
        """Every few seconds: retry failed slice writes, reconcile every application
        (zones that appeared or went, grace periods, status)."""
        while True:
            time.sleep(interval)
            controller.retry_failed()
            for body in list(apps.values()):
                reconcile(body)

    apps: dict[str, Mapping[str, Any]] = {}
    # the default registry carries kopf's login handlers; this one needs its own
    kopf.on.login(registry=registry)(kopf.login_via_client)
    kopf.on.event("", "v1", "nodes", registry=registry)(node)
    kopf.on.event("", "v1", "pods", registry=registry)(pod)
    kopf.on.event("", "v1", "services", registry=registry)(service)
    kopf.on.event(CRD_GROUP, CRD_VERSION, CRD_PLURAL, registry=registry)(app)
    threading.Thread(target=loop, name="reconcile", daemon=True).start()


def run(*, namespace: str, lease: str | None, outpost_intra_vpc: bool, grace_seconds: float,
        write_workers: int = 8) -> None:
    """Elect a leader (unless ``lease`` is None), then run the handlers until stopped."""
    import kopf

    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    api = KubeApi(connections=write_workers + 4)
    if lease:
        identity = os.environ.get("POD_NAME") or socket.gethostname()
        elector = LeaseElector(namespace, lease, identity, api_client=api.client)
        elector.acquire()
        elector.keep()
    controller = Controller(api, outpost_intra_vpc=outpost_intra_vpc, grace=timedelta(seconds=grace_seconds),
                            write_workers=write_workers)
    registry = kopf.OperatorRegistry()
    register(controller, registry)
    kopf.run(registry=registry, standalone=True, clusterwide=True)
