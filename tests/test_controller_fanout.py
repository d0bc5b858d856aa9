"""EdgeApplication fan-out and the controller state machine, driven by watch events
(plain dicts, as the API sends them) with a recording API."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import kubernetes_validate
import pytest
from pydantic import ValidationError

from edgewise.controller.endpoints import ManagedService, Selection
from edgewise.controller.fanout import APP_LABEL, parse_application, zone_windows
from edgewise.controller.state import Controller, NoRegionYet, region_of

T0 = datetime(2026, 1, 1, tzinfo=UTC)
SPEC = {
    "services": [
        {"name": "web", "image": "nginx:1.27", "port": 8080, "calls": ["api"], "expose": {"path": "/"}},
        {"name": "api", "image": "api:1", "port": 9000, "calls": ["db"]},
        {"name": "db", "image": "postgres:16", "port": 5432, "placement": "region"},
    ]
}
NODES = {
    "n-a": ("us-east-1a", "availability-zone"),
    "n-b": ("us-east-1b", "availability-zone"),
    "n-bos": ("us-east-1-wl1-bos-wlz-1", "wavelength"),
    "n-nyc": ("us-east-1-wl1-nyc-wlz-1", "wavelength"),
}


class Recorder:
    def __init__(self) -> None:
        self.objects: dict[tuple[str, str, str, str], dict[str, Any]] = {}
        self.status: dict[str, Mapping[str, Any]] = {}
        self.deleted: list[tuple[str, str, str, str]] = []
        self.slices: list[dict[str, Any]] = []

    def apply(self, obj: Mapping[str, Any]) -> None:
        m = obj["metadata"]
        self.objects[(obj["apiVersion"], obj["kind"], m.get("namespace", ""), m["name"])] = dict(obj)
        if obj["kind"] == "EndpointSlice":
            self.slices.append(dict(obj))

    def delete(self, api_version: str, kind: str, namespace: str, name: str) -> None:
        self.objects.pop((api_version, kind, namespace, name), None)
        self.deleted.append((api_version, kind, namespace, name))

    def owned(self, app: str) -> list[tuple[str, str, str, str]]:
        return [k for k, o in self.objects.items() if o["metadata"].get("labels", {}).get(APP_LABEL) == app]

    def patch_status(self, name: str, status: Mapping[str, Any]) -> None:
        self.status[name] = status

    def event(self, service: ManagedService, selection: Selection) -> None:
        pass


def node(name: str, zone: str, kind: str) -> dict[str, Any]:
    return {"metadata": {"name": name, "labels": {
        "topology.kubernetes.io/zone": zone, "topology.kubernetes.io/region": "us-east-1",
        "edgewise.dev/zone": zone, "edgewise.dev/zone-type": kind,
        "edgewise.dev/role": "region" if kind == "availability-zone" else "edge"}}}


def app_body(status: Mapping[str, Any] | None = None) -> dict[str, Any]:
    return {"apiVersion": "edgewise.dev/v1alpha1", "kind": "EdgeApplication",
            "metadata": {"name": "shop", "uid": "u-1", "generation": 3}, "spec": SPEC, "status": status or {}}


def pod(ns: str, name: str, svc: str, node_name: str, ip: str, ready: bool = True) -> dict[str, Any]:
    return {
        "metadata": {"namespace": ns, "name": name, "uid": "uid-" + name,
                     "labels": {"app.kubernetes.io/name": svc, "app.kubernetes.io/part-of": "shop",
                                "edgewise.dev/service": svc}},
        "spec": {"nodeName": node_name},
        "status": {"podIP": ip, "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]},
    }


@pytest.fixture
def ctl() -> tuple[Controller, Recorder]:
    api = Recorder()
    c = Controller(api, grace=timedelta(minutes=10))
    for n, (z, k) in NODES.items():
        c.node_event("ADDED", node(n, z, k))
    return c, api


def namespaces(api: Recorder) -> set[str]:
    return {k[3] for k in api.objects if k[1] == "Namespace"}


def test_fans_out_to_every_zone_whose_nodes_appear(ctl: tuple[Controller, Recorder]) -> None:
    c, api = ctl
    c.reconcile_app(app_body(), T0)
    assert namespaces(api) == {"shop-region", "shop-wl1-bos-wlz-1", "shop-wl1-nyc-wlz-1"}
    for o in api.objects.values():
        kubernetes_validate.validate(o, "1.31", strict=True)
        assert o["metadata"]["labels"][APP_LABEL] == "shop"
        assert o["metadata"]["ownerReferences"][0]["uid"] == "u-1"
    # the edge copies of "api" (called with failover) are handed to the controller
    svc = api.objects[("v1", "Service", "shop-wl1-bos-wlz-1", "api")]
    assert "selector" not in svc["spec"]
    assert svc["metadata"]["annotations"]["edgewise.dev/zone"] == "us-east-1-wl1-bos-wlz-1"
    # no ALB Ingress (the controller cannot know the subnets)
    assert not [k for k in api.objects if k[1] == "Ingress"]
    # a new zone's nodes appear: its copy follows
    c.node_event("ADDED", node("n-lz", "us-east-1-bos-1a", "local"))
    c.reconcile_app(app_body(api.status["shop"]), T0 + timedelta(seconds=5))
    assert "shop-bos-1a" in namespaces(api)


def test_zone_that_goes_away_keeps_its_copies_for_the_grace_period(ctl: tuple[Controller, Recorder]) -> None:
    c, api = ctl
    c.reconcile_app(app_body(), T0)
    c.node_event("DELETED", node("n-nyc", *NODES["n-nyc"]))
    c.reconcile_app(app_body(api.status["shop"]), T0 + timedelta(minutes=1))
    status = api.status["shop"]
    nyc = next(z for z in status["zones"] if z["zone"] == "us-east-1-wl1-nyc-wlz-1")
    assert nyc["conditions"][0]["reason"] == "NodesGone"
    assert nyc["missingSince"] == (T0 + timedelta(minutes=1)).isoformat()
    assert "shop-wl1-nyc-wlz-1" in namespaces(api)
    # still within the grace period (measured from when it went missing, not from now)
    c.reconcile_app(app_body(api.status["shop"]), T0 + timedelta(minutes=10))
    assert "shop-wl1-nyc-wlz-1" in namespaces(api)
    c.reconcile_app(app_body(api.status["shop"]), T0 + timedelta(minutes=11, seconds=1))
    assert "shop-wl1-nyc-wlz-1" not in namespaces(api)
    assert ("v1", "Namespace", "", "shop-wl1-nyc-wlz-1") in api.deleted
    assert [z["zone"] for z in api.status["shop"]["zones"]] == ["us-east-1-wl1-bos-wlz-1", "region"]
    # namespaces go last: their objects are deleted first
    kinds = [d[1] for d in api.deleted]
    assert kinds.index("Namespace") == len(kinds) - 1


def test_zone_that_comes_back_within_the_grace_period_is_present_again(ctl: tuple[Controller, Recorder]) -> None:
    c, api = ctl
    c.reconcile_app(app_body(), T0)
    c.node_event("DELETED", node("n-nyc", *NODES["n-nyc"]))
    c.reconcile_app(app_body(api.status["shop"]), T0 + timedelta(minutes=1))
    c.node_event("ADDED", node("n-nyc", *NODES["n-nyc"]))
    c.reconcile_app(app_body(api.status["shop"]), T0 + timedelta(minutes=20))
    nyc = next(z for z in api.status["shop"]["zones"] if z["zone"] == "us-east-1-wl1-nyc-wlz-1")
    assert "missingSince" not in nyc
    assert "shop-wl1-nyc-wlz-1" in namespaces(api)


def test_status_counts_zones_ready_over_total(ctl: tuple[Controller, Recorder]) -> None:
    c, api = ctl
    c.reconcile_app(app_body(), T0)
    assert api.status["shop"]["ready"] == "0/3"
    ip = iter(range(1, 100))
    for ns, node_name in (("shop-region", "n-a"), ("shop-wl1-bos-wlz-1", "n-bos")):
        for s in ("web", "api") + (("db",) if ns == "shop-region" else ()):
            c.pod_event("ADDED", pod(ns, f"{s}-0", s, node_name, f"10.0.0.{next(ip)}"))
    c.reconcile_app(app_body(api.status["shop"]), T0)
    st = api.status["shop"]
    assert (st["ready"], st["zonesReady"], st["zonesTotal"]) == ("2/3", 2, 3)
    nyc = next(z for z in st["zones"] if z["zone"] == "us-east-1-wl1-nyc-wlz-1")
    assert nyc["conditions"][0]["status"] == "False"
    assert nyc["conditions"][0]["message"].startswith("no Ready pod: api, web")
    assert st["conditions"][0]["reason"] == "ZonesNotReady"
    assert st["observedGeneration"] == 3


def test_bad_spec_is_a_validation_error_naming_the_field(ctl: tuple[Controller, Recorder]) -> None:
    c, _ = ctl
    body = app_body()
    body["spec"] = {"services": [{"name": "Web_1", "image": "x", "port": 0}]}
    with pytest.raises(ValidationError) as exc:
        c.reconcile_app(body, T0)
    locs = {tuple(e["loc"]) for e in exc.value.errors()}
    assert ("spec", "services", 0, "name") in locs and ("spec", "services", 0, "port") in locs


def test_parse_application_forces_the_kubernetes_backend_without_ingress() -> None:
    app = parse_application("shop", {**SPEC, "routing": "istio"})
    assert app.spec.routing.value == "kubernetes"
    assert app.spec.ingress.value == "none"


def test_endpoints_follow_readiness_through_events(ctl: tuple[Controller, Recorder]) -> None:
    """The whole path: fan-out writes the Services, the Service events reach the index,
    pod readiness moves the zone's endpoints to the Region and back."""
    c, api = ctl
    c.reconcile_app(app_body(), T0)
    for (_, kind, _, _), o in list(api.objects.items()):
        if kind == "Service":
            c.service_event("ADDED", o)
    c.pod_event("ADDED", pod("shop-region", "api-r0", "api", "n-a", "10.0.1.1"))
    c.pod_event("ADDED", pod("shop-wl1-bos-wlz-1", "api-b0", "api", "n-bos", "10.0.2.1"))
    c.pod_event("ADDED", pod("shop-wl1-nyc-wlz-1", "api-n0", "api", "n-nyc", "10.0.3.1"))

    def current(ns: str) -> tuple[str, list[str]]:
        o = api.objects[("discovery.k8s.io/v1", "EndpointSlice", ns, "api-edgewise")]
        return (o["metadata"]["annotations"]["edgewise.dev/endpoint-source"],
                [e["addresses"][0] for e in o["endpoints"]])

    assert current("shop-wl1-bos-wlz-1") == ("zone", ["10.0.2.1"])
    c.pod_event("MODIFIED", pod("shop-wl1-bos-wlz-1", "api-b0", "api", "n-bos", "10.0.2.1", ready=False))
    assert current("shop-wl1-bos-wlz-1") == ("region", ["10.0.1.1"])  # never nyc's 10.0.3.1
    assert current("shop-wl1-nyc-wlz-1") == ("zone", ["10.0.3.1"])
    c.pod_event("MODIFIED", pod("shop-wl1-bos-wlz-1", "api-b0", "api", "n-bos", "10.0.2.1"))
    assert current("shop-wl1-bos-wlz-1") == ("zone", ["10.0.2.1"])
    # the Region's pod dies too while bos is down: no endpoint rather than a sibling's
    c.pod_event("MODIFIED", pod("shop-wl1-bos-wlz-1", "api-b0", "api", "n-bos", "10.0.2.1", ready=False))
    c.pod_event("DELETED", pod("shop-region", "api-r0", "api", "n-a", "10.0.1.1"))
    assert current("shop-wl1-bos-wlz-1") == ("none", [])
    # a repeated identical event writes nothing
    before = len(api.slices)
    c.pod_event("MODIFIED", pod("shop-wl1-nyc-wlz-1", "api-n0", "api", "n-nyc", "10.0.3.1"))
    assert len(api.slices) == before


def test_a_misconfigured_service_is_reported_not_managed(ctl: tuple[Controller, Recorder]) -> None:
    c, api = ctl
    body = {"metadata": {"namespace": "x", "name": "api", "annotations": {
        "edgewise.dev/endpoints": "edge-failover", "edgewise.dev/zone": "z"}},
        "spec": {"selector": {"a": "b"}, "ports": [{"name": "app", "port": 80}]}}
    assert c.service_event("ADDED", body) == 0
    assert "remove the selector" in c.errors[("x", "api")]
    assert not api.slices


def test_zone_windows_and_region_of() -> None:
    kept, removed = zone_windows(["a"], {"b": None, "c": (T0 - timedelta(hours=1)).isoformat()}, T0,
                                 timedelta(minutes=5))
    assert kept == {"a": None, "b": T0.isoformat()}
    assert removed == ["c"]
    assert region_of({"n": {"topology.kubernetes.io/zone": "eu-west-3b"}}) == "eu-west-3"


def test_no_fan_out_before_a_region_node_is_known() -> None:
    """kopf's timer may fire before the node watch listed the Region's nodes: the Region
    copy would be pinned to no AZ at all (the API server rejects an empty In list)."""
    api = Recorder()
    c = Controller(api)
    c.node_event("ADDED", node("n-bos", *NODES["n-bos"]))
    with pytest.raises(NoRegionYet, match="no Region node"):
        c.reconcile_app(app_body(), T0)
    assert api.objects == {}
    c.node_event("ADDED", node("n-a", *NODES["n-a"]))
    c.reconcile_app(app_body(), T0)
    assert "shop-region" in namespaces(api)
