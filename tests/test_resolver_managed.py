"""Controller-kept Services (``edgewise.dev/endpoints: edge-failover``) in the resolver.

The resolver computes their tiers once per Service, from a cluster-wide label index and
only the zones the Service's zone can reach. These tests hold that against the plain
definition: every workload of the cluster whose pod labels match the selector, every zone
it runs in, the tier :func:`edgewise.plan.endpoints.tier_of` gives the link between the
two zones, in inventory order.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from edgewise.k8s.inventory import Inventory, Source
from edgewise.plan import endpoints as E
from edgewise.routing import Caller, Endpoint, RouteResolver
from edgewise.spec import load_spec
from edgewise.topology import Topology, build_topology

ROOT = Path(__file__).resolve().parents[1]
_OUTPOSTS = build_topology(load_spec(ROOT / "examples/outposts/topology.yaml"))
_LOCAL = build_topology(load_spec(ROOT / "examples/local-zones-hashicups/topology.yaml"))
_WAVELENGTH = build_topology(load_spec(ROOT / "examples/wavelength/topology.yaml"))


def mixed_topology(intra: bool) -> Topology:
    """Region AZs, two Outposts, Local Zones and Wavelength Zones in one topology (the
    network model reads zone names and kinds only)."""
    extra = tuple(z for t in (_LOCAL, _WAVELENGTH) for z in t.zones if z.is_edge)
    return dataclasses.replace(_OUTPOSTS, zones=_OUTPOSTS.zones + extra, outpost_intra_vpc=intra)


def deployment(name: str, ns: str, zone: str, labels: dict[str, str], replicas: int) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "nodeSelector": {"edgewise.dev/zone": zone},
                    "tolerations": [{"operator": "Exists"}],
                    "containers": [{"name": "c", "image": "x"}],
                },
            },
        },
    }


def managed_service(name: str, ns: str, zone: str, selector: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": name,
            "namespace": ns,
            "annotations": {
                E.ENDPOINTS_ANNOTATION: E.ENDPOINTS_MODE,
                E.ZONE_ANNOTATION: zone,
                E.SELECTOR_ANNOTATION: selector,
            },
        },
        "spec": {"ports": [{"port": 80}]},
    }


def reference_tiers(inv: Inventory, topo: Topology, zone: str, sel: tuple[tuple[str, str], ...],
                    service: str) -> list[tuple[str, list[Endpoint]]]:
    """The definition, with no index and no cache: (mechanism, endpoints) per tier."""
    buckets: dict[int, list[Endpoint]] = {}
    for w in inv.workloads():
        if not all(w.pod_labels.get(k) == v for k, v in sel):
            continue
        for z in w.zones:
            if w.replicas_in(z) <= 0:
                continue
            if topo.has_zone(zone) and topo.has_zone(z):
                tier = E.tier_of(topo.link(zone, z))
            else:
                tier = 0 if z == zone else None
            if tier is not None:
                buckets.setdefault(tier, []).append(Endpoint(z, w.namespace, w.name, service, w.replicas_in(z)))
    return [("edgewise-controller" if t == 0 else f"edgewise-controller-{E.TIER_SOURCES[t]}", buckets[t])
            for t in sorted(buckets)]


ZONE_NAMES = [z.name for z in mixed_topology(True).zones]
APPS = ["web", "api", "db"]


@st.composite
def clusters(draw: st.DrawFn) -> tuple[bool, list[dict[str, Any]], list[tuple[str, str, str]]]:
    intra = draw(st.booleans())
    docs: list[dict[str, Any]] = []
    for i in range(draw(st.integers(1, 14))):
        app = draw(st.sampled_from(APPS))
        zone = draw(st.sampled_from(ZONE_NAMES))
        ns = draw(st.sampled_from(["default", "shop", zone[-12:].strip("-")]))
        labels = {"app": app}
        if draw(st.booleans()):
            labels["tier"] = draw(st.sampled_from(["a", "b"]))
        docs.append(deployment(f"{app}-{i}", ns, zone, labels, draw(st.integers(0, 3))))
    services = []
    for i in range(draw(st.integers(1, 6))):
        app = draw(st.sampled_from(APPS))
        zone = draw(st.sampled_from([*ZONE_NAMES, "not-a-zone"]))
        selector = f"app={app}" + draw(st.sampled_from(["", ",tier=a", ",tier=b"]))
        ns = draw(st.sampled_from(["default", "shop"]))
        name = f"{app}-svc-{i}"
        docs.append(managed_service(name, ns, zone, selector))
        services.append((ns, name, zone))
    return intra, docs, services


@settings(max_examples=150, deadline=None)
@given(clusters())
def test_managed_tiers_match_the_definition(cluster: tuple[bool, list[dict[str, Any]], list[tuple[str, str, str]]]
                                            ) -> None:
    intra, docs, services = cluster
    topo = mixed_topology(intra)
    inv = Inventory.from_objects(((d, Source("m.yaml", 1, i)) for i, d in enumerate(docs)), topo)
    r = RouteResolver(inv, topo)
    for ns, name, zone in services:
        svc = inv.service(ns, name)
        assert svc is not None
        sel = E.parse_selector(svc.obj.annotations[E.SELECTOR_ANNOTATION])
        expected = reference_tiers(inv, topo, zone, sel, name)
        # twice from two callers: the second answer comes from the per-Service cache
        for caller in (Caller(ZONE_NAMES[0], "default", "x"), Caller(ZONE_NAMES[-1], "shop", "y")):
            res = r.resolve(caller, f"{name}.{ns}")
            assert res.found and res.target == f"{ns}/{name}"
            assert [(t.mechanism, list(t.endpoints)) for t in res.tiers] == expected
            assert res.notes[-1].startswith(f"endpoints kept by the edgewise controller for zone {zone}:")
            assert ("else the other Outposts'" in res.notes[-1]) == any(
                m.endswith("-outpost") for m, _ in expected)


def test_an_outpost_reaches_its_sibling_only_with_intra_vpc() -> None:
    for intra in (True, False):
        topo = mixed_topology(intra)
        docs = [deployment(f"web-{z}", "default", z, {"app": "web"}, 1)
                for z in ("us-west-2a", "outpost-1", "outpost-2", _LOCAL.edge_zones[0].name)]
        docs.append(managed_service("web-op1", "default", "outpost-1", "app=web"))
        inv = Inventory.from_objects(((d, Source("m.yaml", 1, i)) for i, d in enumerate(docs)), topo)
        res = RouteResolver(inv, topo).resolve(Caller("outpost-1", "default", "x"), "web-op1")
        got = [(t.mechanism, [e.zone for e in t.endpoints]) for t in res.tiers]
        want = [("edgewise-controller", ["outpost-1"]), ("edgewise-controller-region", ["us-west-2a"])]
        if intra:
            want.append(("edgewise-controller-outpost", ["outpost-2"]))
        assert got == want  # each zone once (an Outpost is both the Service's zone and a hub zone)
