"""Inventory: indexing and placement inference against the topology's node groups."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from edgewise.k8s.inventory import Inventory, Source, label_selector_matches, tolerates
from edgewise.spec import load_spec
from edgewise.topology import Topology, build_topology

ROOT = Path(__file__).resolve().parents[1]
LZ, LAS, PHX = "us-west-2-lax-1a", "us-west-2-las-1a", "us-west-2-phx-2a"
EDGE_TOL = [{"key": "edgewise.dev/edge", "operator": "Exists", "effect": "NoSchedule"}]


@pytest.fixture(scope="module")
def topo() -> Topology:
    return build_topology(load_spec(ROOT / "examples/local-zones-hashicups/topology.yaml"))


def deploy(
    name: str,
    ns: str = "default",
    *,
    replicas: int = 1,
    labels: dict[str, str] | None = None,
    pod: dict[str, Any] | None = None,
    annotations: dict[str, str] | None = None,
) -> dict[str, Any]:
    labels = labels or {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels, "annotations": annotations or {}},
                "spec": {"containers": [{"name": "c", "image": "x"}], **(pod or {})},
            },
        },
    }


def inv_of(topo: Topology | None, *docs: dict[str, Any]) -> Inventory:
    return Inventory.from_objects(((d, Source("m.yaml", i + 1, i)) for i, d in enumerate(docs)), topo)


def test_untolerated_workload_runs_only_in_the_region(topo: Topology) -> None:
    inv = inv_of(topo, deploy("web"))
    (w,) = inv.workloads()
    assert set(w.zones) == {"us-west-2a", "us-west-2b"}
    assert "tolerates" in w.placement and not w.pinned


def test_toleration_alone_opens_every_zone(topo: Topology) -> None:
    inv = inv_of(topo, deploy("web", pod={"tolerations": EDGE_TOL}))
    assert set(inv.workloads()[0].zones) == {z.name for z in topo.zones}


def test_node_affinity_on_zone_label_pins(topo: Topology) -> None:
    aff = {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {
                        "matchExpressions": [
                            {
                                "key": "topology.kubernetes.io/zone",
                                "operator": "In",
                                "values": [LZ, LAS],
                            }
                        ]
                    }
                ]
            }
        }
    }
    inv = inv_of(topo, deploy("web", pod={"affinity": aff, "tolerations": EDGE_TOL}))
    w = inv.workloads()[0]
    assert w.zones == (LZ, LAS) and w.pinned
    assert w.replicas_in(LZ) == 0.5 and w.replicas_in("us-west-2a") == 0


def test_legacy_label_and_node_selector_and_role(topo: Topology) -> None:
    a = deploy(
        "a",
        pod={
            "nodeSelector": {"failure-domain.beta.kubernetes.io/zone": PHX},
            "tolerations": EDGE_TOL,
        },
    )
    b = deploy("b", pod={"nodeSelector": {"edgewise.dev/role": "region"}})
    c = deploy("c", pod={"nodeSelector": {"edgewise.dev/zone": LZ}})  # taint not tolerated
    inv = inv_of(topo, a, b, c)
    zones = {w.name: w.zones for w in inv.workloads()}
    assert zones == {"a": (PHX,), "b": ("us-west-2a", "us-west-2b"), "c": ()}


def test_catalog_topology_without_edgewise_taints(topo: Topology) -> None:
    inv = Inventory.from_objects([(deploy("web"), Source("", 0, 0))], topo, edge_taints=False)
    assert len(inv.workloads()[0].zones) == 5


def test_selector_index_and_services(topo: Topology) -> None:
    svc = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web", "namespace": "a"},
        "spec": {
            "selector": {"app": "web"},
            "trafficDistribution": "PreferClose",
            "ports": [{"port": 80}],
        },
    }
    inv = inv_of(
        topo,
        deploy("web", "a"),
        deploy("web", "b"),
        deploy("other", "a", labels={"app": "web", "tier": "x"}),
        svc,
        {"kind": "Thing"},
        "not a mapping",
    )  # type: ignore[arg-type]
    s = inv.service("a", "web")
    assert s is not None and s.prefers_zone and s.ports == (80,)
    assert sorted(w.name for w in inv.select(s)) == ["other", "web"]  # both in ns a only
    assert len(inv.skipped) == 2
    assert inv.services_of(inv.workload_by_name("a", "web")) == [s]  # type: ignore[arg-type]


def test_no_topology_means_unknown_placement() -> None:
    inv = inv_of(None, deploy("web"))
    assert inv.workloads()[0].zones == ()


def test_consul_names_and_mirroring(topo: Topology) -> None:
    ann = {
        "consul.hashicorp.com/connect-inject": "true",
        "consul.hashicorp.com/connect-service": "api-lax",
    }
    svc = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "db"},
        "spec": {"selector": {"app": "db"}},
    }
    inv = inv_of(
        topo,
        deploy("api", annotations=ann),
        deploy("db", annotations={"consul.hashicorp.com/connect-inject": "true"}),
        svc,
    )
    assert [w.name for w in inv.consul_instances("api-lax")] == ["api"]
    assert [w.name for w in inv.consul_instances("db")] == ["db"]
    assert not inv.consul_mirroring()
    res = {
        "apiVersion": "consul.hashicorp.com/v1alpha1",
        "kind": "ServiceResolver",
        "metadata": {"name": "db"},
        "spec": {"redirect": {"service": "db", "namespace": "r"}},
    }
    assert inv_of(topo, res).consul_mirroring()


@pytest.mark.parametrize(
    ("tol", "ok"),
    [
        ({"operator": "Exists"}, True),
        ({"key": "k", "operator": "Exists"}, True),
        ({"key": "k", "value": "v"}, True),
        ({"key": "k", "value": "w"}, False),
        ({"key": "k", "operator": "Exists", "effect": "NoExecute"}, False),
    ],
)
def test_tolerates(tol: dict[str, str], ok: bool) -> None:
    assert tolerates([tol], {"key": "k", "value": "v", "effect": "NoSchedule"}) is ok


def test_label_selector_expressions() -> None:
    sel = {
        "matchLabels": {"a": "1"},
        "matchExpressions": [
            {"key": "b", "operator": "NotIn", "values": ["x"]},
            {"key": "c", "operator": "Exists"},
        ],
    }
    assert label_selector_matches(sel, {"a": "1", "c": ""})
    assert not label_selector_matches(sel, {"a": "1", "b": "x", "c": ""})
    assert not label_selector_matches(sel, {"a": "1"})


def test_cluster_export_counts_each_pod_once(topo: Topology) -> None:
    d = deploy("web", replicas=2)
    rs = deploy("web-7d9f", replicas=2)
    rs["kind"] = "ReplicaSet"
    rs["metadata"]["ownerReferences"] = [
        {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "uid": "1", "controller": True}
    ]
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "web-7d9f-abc",
            "namespace": "default",
            "labels": {"app": "web"},
            "ownerReferences": [
                {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-7d9f", "uid": "2", "controller": True}
            ],
        },
        "spec": {"containers": [{"name": "c", "image": "x"}]},
    }
    orphan = dict(
        pod,
        metadata={
            **pod["metadata"],
            "name": "lonely",
            "ownerReferences": [{"kind": "ReplicaSet", "name": "gone", "controller": True}],
        },
    )
    inv = inv_of(topo, d, rs, pod, orphan)
    assert sorted((w.kind, w.name) for w in inv.workloads()) == [("Deployment", "web"), ("Pod", "lonely")]


# found by the placement differential test against the real scheduler (test_lab_placement.py)
def test_empty_node_selector_term_matches_no_node(topo: Topology) -> None:
    zone_term = {"matchExpressions": [{"key": "topology.kubernetes.io/zone", "operator": "In", "values": [LZ]}]}
    only_empty = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [{}]}}}
    empty_or_lax = {
        "nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [{}, zone_term]}}
    }
    inv = inv_of(
        topo,
        deploy("nowhere", pod={"affinity": only_empty, "tolerations": EDGE_TOL}),
        deploy("lax", pod={"affinity": empty_or_lax, "tolerations": EDGE_TOL}),
    )
    zones = {w.name: set(w.zones) for w in inv.workloads()}
    assert zones == {"nowhere": set(), "lax": {LZ}}


def test_spread_on_a_label_some_nodes_lack_excludes_them(topo: Topology) -> None:
    def spread(key: str, when: str) -> dict[str, Any]:
        return {
            "tolerations": EDGE_TOL,
            "topologySpreadConstraints": [
                {"maxSkew": 1, "topologyKey": key, "whenUnsatisfiable": when, "nodeTaintsPolicy": "Honor",
                 "labelSelector": {"matchLabels": {"app": "x"}}}
            ],
        }

    inv = inv_of(
        topo,
        deploy("strict-parent", pod=spread("edgewise.dev/parent-region", "DoNotSchedule")),
        deploy("soft-parent", pod=spread("edgewise.dev/parent-region", "ScheduleAnyway")),
        deploy("strict-zone", pod=spread("topology.kubernetes.io/zone", "DoNotSchedule")),
    )
    zones = {w.name: set(w.zones) for w in inv.workloads()}
    region = {"us-west-2a", "us-west-2b"}
    assert zones["strict-parent"] == region  # only Region nodes carry the parent-region label
    assert zones["soft-parent"] == zones["strict-zone"] == {z.name for z in topo.zones}
