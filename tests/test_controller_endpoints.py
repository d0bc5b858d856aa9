"""The controller's endpoint selection: zone, else Region, never a sibling edge zone.

The incremental index is checked against a from-scratch selection after every event of
random event sequences; the EndpointSlices it writes against the real EndpointSlice
schema (kubernetes-validate).
"""

from __future__ import annotations

from typing import Any

import kubernetes_validate
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgewise.controller.endpoints import (
    EndpointIndex,
    ManagedService,
    PodInfo,
    ZoneMap,
    endpoint_slice,
    managed_service,
    pod_info,
    select,
    zone_of_node,
)
from edgewise.plan.endpoints import parse_selector
from edgewise.spec import ZoneType
from edgewise.topology import Link

AZ, LZ, WL, OP = ZoneType.AVAILABILITY_ZONE, ZoneType.LOCAL, ZoneType.WAVELENGTH, ZoneType.OUTPOST
KINDS = {"az-a": AZ, "az-b": AZ, "lz-1": LZ, "lz-2": LZ, "wl-1": WL, "op-1": OP, "op-2": OP}
SEL = (("app.kubernetes.io/part-of", "shop"), ("edgewise.dev/service", "web"))


def zones(intra: bool = False) -> ZoneMap:
    return ZoneMap(KINDS, {z: z for z in KINDS}, intra)


def pod(zone: str, i: int, ready: bool = True, labels: tuple[tuple[str, str], ...] = SEL) -> PodInfo:
    ip = f"10.{list(KINDS).index(zone)}.0.{i + 1}"
    return PodInfo("ns-" + zone, f"web-{zone}-{i}", f"uid-{zone}-{i}", ip, f"node-{zone}", ready, labels)


def by_zone(*pods: PodInfo) -> dict[str, list[PodInfo]]:
    """Pods per zone, one per (namespace, name): the last state of a pod wins."""
    latest = {p.key: p for p in pods}
    out: dict[str, list[PodInfo]] = {}
    for p in latest.values():
        out.setdefault(p.node.removeprefix("node-"), []).append(p)
    return out


def test_own_zone_first() -> None:
    s = select("lz-1", by_zone(pod("lz-1", 0), pod("az-a", 0), pod("lz-2", 0)), zones())
    assert s.source == "zone"
    assert [p.name for p in s.pods] == ["web-lz-1-0"]


def test_region_when_the_zone_has_no_ready_pod() -> None:
    s = select("lz-1", by_zone(pod("lz-1", 0, ready=False), pod("az-a", 0), pod("az-b", 1), pod("lz-2", 0)), zones())
    assert s.source == "region"
    assert {p.name for p in s.pods} == {"web-az-a-0", "web-az-b-1"}


def test_never_a_sibling_edge_zone_even_when_the_region_is_empty() -> None:
    s = select("lz-1", by_zone(pod("lz-2", 0), pod("wl-1", 0), pod("op-1", 0)), zones(intra=True))
    assert s.source == "none"
    assert s.pods == ()


@pytest.mark.parametrize("intra", [False, True])
def test_outposts_use_each_other_only_with_intra_vpc(intra: bool) -> None:
    s = select("op-1", by_zone(pod("op-2", 0), pod("lz-1", 0)), zones(intra))
    assert (s.source, [p.name for p in s.pods]) == (("outpost", ["web-op-2-0"]) if intra else ("none", []))
    # the Region still comes before a sibling Outpost
    s = select("op-1", by_zone(pod("op-2", 0), pod("az-a", 0)), zones(intra))
    assert s.source == "region"


pod_st = st.builds(pod, st.sampled_from(sorted(KINDS)), st.integers(0, 3), st.booleans())


@settings(max_examples=200, deadline=None)
@given(st.lists(pod_st, max_size=12), st.sampled_from(sorted(KINDS)), st.booleans())
def test_selection_respects_the_network_model(pods: list[PodInfo], zone: str, intra: bool) -> None:
    zm = zones(intra)
    s = select(zone, by_zone(*pods), zm)
    ranks = {Link.SAME_ZONE: 0, Link.REGION_MESH: 1, Link.SERVICE_LINK: 1, Link.LOCAL_GATEWAY: 2}
    for p in s.pods:
        assert p.ready
        assert zm.link(zone, p.node.removeprefix("node-")) != Link.NONE
    pods = list({p.key: p for p in pods}.values())
    usable = [ranks[zm.link(zone, p.node.removeprefix("node-"))] for p in pods
              if p.ready and zm.link(zone, p.node.removeprefix("node-")) != Link.NONE]
    if usable:
        best = min(usable)
        assert {ranks[zm.link(zone, p.node.removeprefix("node-"))] for p in s.pods} == {best}
        assert len(s.pods) == len({p.key for p in pods if p.ready and
                                   ranks.get(zm.link(zone, p.node.removeprefix("node-"))) == best})
    else:
        assert s.source == "none"


def node_labels(zone: str) -> dict[str, str]:
    return {"topology.kubernetes.io/zone": zone, "edgewise.dev/zone": zone, "edgewise.dev/zone-type": KINDS[zone].value}


def svc(zone: str) -> ManagedService:
    return ManagedService("ns-" + zone, "web", zone, SEL, (("app", 8080),))


events = st.one_of(
    st.tuples(st.just("pod"), pod_st),
    st.tuples(st.just("delete-pod"), pod_st),
    st.tuples(st.just("node"), st.sampled_from(sorted(KINDS))),
    st.tuples(st.just("delete-node"), st.sampled_from(sorted(KINDS))),
    st.tuples(st.just("service"), st.sampled_from(sorted(KINDS))),
    st.tuples(st.just("delete-service"), st.sampled_from(sorted(KINDS))),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(events, max_size=40), st.booleans())
def test_incremental_index_matches_a_fresh_selection(seq: list[tuple[str, Any]], intra: bool) -> None:
    idx = EndpointIndex(outpost_intra_vpc=intra)
    pods: dict[tuple[str, str], PodInfo] = {}
    nodes: set[str] = set()
    seen: set[str] = set()  # a zone's kind is remembered after its nodes go
    services: set[str] = set()
    for kind, arg in seq:
        if kind == "pod":
            pods[arg.key] = arg
            idx.on_pod(arg)
        elif kind == "delete-pod":
            pods.pop(arg.key, None)
            idx.on_pod(None, arg.key)
        elif kind == "node":
            nodes.add(arg)
            seen.add(arg)
            idx.on_node("node-" + arg, node_labels(arg))
        elif kind == "delete-node":
            nodes.discard(arg)
            idx.on_node("node-" + arg, None)
        elif kind == "service":
            services.add(arg)
            idx.on_service(svc(arg), pods=pods.values())
        else:
            services.discard(arg)
            idx.on_service(None, ("ns-" + arg, "web"))
        known = ZoneMap({z: KINDS[z] for z in seen}, {z: z for z in seen}, intra)
        visible = [p for p in pods.values() if p.node.removeprefix("node-") in nodes]
        for z in services:
            assert idx.published[("ns-" + z, "web")] == select(z, by_zone(*visible), known), (kind, arg)
        assert set(idx.published) == {("ns-" + z, "web") for z in services}


def test_index_reports_only_services_whose_selection_changed() -> None:
    idx = EndpointIndex()
    for z in KINDS:
        idx.on_node("node-" + z, node_labels(z))
    for z in ("lz-1", "lz-2", "wl-1"):
        idx.on_service(svc(z))
    idx.on_pod(pod("az-a", 0))
    for z in ("lz-1", "lz-2", "wl-1"):
        idx.on_pod(pod(z, 0))
    # lz-1's pod goes unready: only lz-1 changes, to the Region
    changed = idx.on_pod(pod("lz-1", 0, ready=False))
    assert [(s.zone, sel.source, sel.ips) for s, sel in changed] == [("lz-1", "region", (pod("az-a", 0).ip,))]
    # a second Region pod: only the Service in failover changes
    changed = idx.on_pod(pod("az-b", 0))
    assert [(s.zone, sel.source) for s, sel in changed] == [("lz-1", "region")]
    assert len(changed[0][1].pods) == 2
    # back: lz-1 returns to its own pod
    changed = idx.on_pod(pod("lz-1", 0))
    assert [(s.zone, sel.source) for s, sel in changed] == [("lz-1", "zone")]
    # a sibling's change never touches lz-1
    assert [s.zone for s, _ in idx.on_pod(pod("lz-2", 0, ready=False))] == ["lz-2"]


def test_endpoint_slice_is_a_valid_endpointslice() -> None:
    idx = EndpointIndex()
    for z in KINDS:
        idx.on_node("node-" + z, node_labels(z))
    s = svc("lz-1")
    idx.on_service(s)
    idx.on_pod(pod("az-a", 0))
    idx.on_pod(pod("az-b", 1))
    (obj,) = idx.slices(s)
    kubernetes_validate.validate(obj, "1.31", strict=True)
    assert obj["metadata"]["labels"]["kubernetes.io/service-name"] == "web"
    assert obj["metadata"]["labels"]["endpointslice.kubernetes.io/managed-by"] == "edgewise-controller.edgewise.dev"
    assert [e["zone"] for e in obj["endpoints"]] == ["az-a", "az-b"]
    assert obj["ports"] == [{"name": "app", "port": 8080, "protocol": "TCP"}]
    empty = endpoint_slice(svc("lz-2"), select("lz-2", {}, zones()), zones(), {})
    kubernetes_validate.validate(empty, "1.31", strict=True)
    assert empty["endpoints"] == []


def test_pod_info_readiness() -> None:
    body: dict[str, Any] = {
        "metadata": {"namespace": "n", "name": "p", "uid": "u", "labels": {"a": "b"}},
        "spec": {"nodeName": "n1"},
        "status": {"podIP": "10.0.0.1", "conditions": [{"type": "Ready", "status": "True"}]},
    }
    assert pod_info(body).ready
    unready = [{"type": "Ready", "status": "False"}]
    assert not pod_info({**body, "status": {**body["status"], "conditions": unready}}).ready
    assert not pod_info({**body, "status": {"conditions": body["status"]["conditions"]}}).ready  # no IP yet
    assert not pod_info({**body, "metadata": {**body["metadata"], "deletionTimestamp": "2026-01-01T00:00:00Z"}}).ready


def test_zone_of_node() -> None:
    assert zone_of_node(node_labels("op-1")) == ("op-1", OP, "op-1")
    outpost = {"topology.kubernetes.io/zone": "us-east-1a", "edgewise.dev/zone": "rack-1",
               "edgewise.dev/zone-type": "outpost"}
    assert zone_of_node(outpost) == ("rack-1", OP, "us-east-1a")
    assert zone_of_node({"topology.kubernetes.io/zone": "us-east-1a", "edgewise.dev/role": "region"})[1] is AZ
    # an unlabelled edge node is a spoke (safe side: it reaches only itself and the Region)
    assert zone_of_node({"topology.kubernetes.io/zone": "us-east-1-bos-1a"})[1] is LZ
    assert zone_of_node({}) is None


def _service(**over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "metadata": {"namespace": "shop-lz", "name": "web", "annotations": {
            "edgewise.dev/endpoints": "edge-failover",
            "edgewise.dev/endpoint-selector": "app.kubernetes.io/part-of=shop,edgewise.dev/service=web",
            "edgewise.dev/zone": "lz-1"}},
        "spec": {"ports": [{"name": "app", "port": 80, "targetPort": 8080}]},
    }
    for k, v in over.items():
        if k == "annotations":
            body["metadata"]["annotations"].update(v)
        else:
            body["spec"][k] = v
    return body


def test_managed_service_parses_the_plan_contract() -> None:
    m = managed_service(_service())
    assert m == ManagedService("shop-lz", "web", "lz-1", SEL, (("app", 8080),))
    assert managed_service({"metadata": {"name": "x"}, "spec": {"selector": {"a": "b"}}}) is None


@pytest.mark.parametrize(("over", "words"), [
    ({"selector": {"a": "b"}}, "remove the selector"),
    ({"annotations": {"edgewise.dev/zone": ""}}, "edgewise.dev/zone is missing"),
    ({"annotations": {"edgewise.dev/endpoint-selector": "app in (a,b)"}}, "key=value"),
    ({"annotations": {"edgewise.dev/endpoint-selector": ""}}, "empty selector"),
    ({"ports": [{"name": "app", "port": 80, "targetPort": "http"}]}, "numeric targetPort"),
])
def test_managed_service_bad_annotations_say_what_to_fix(over: dict[str, Any], words: str) -> None:
    with pytest.raises(ValueError, match=words) as exc:
        managed_service(_service(**over))
    assert "Service shop-lz/web" in str(exc.value)


def test_parse_selector() -> None:
    assert parse_selector(" b=2, a=1 ") == (("a", "1"), ("b", "2"))
    for bad in ("a", "a!=b", "=b", ","):
        with pytest.raises(ValueError):
            parse_selector(bad)
