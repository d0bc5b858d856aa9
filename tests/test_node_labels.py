"""The inferred nodes carry the labels every kubelet and the AWS cloud provider set.

Manifests written for any cluster select them (``kubernetes.io/os: linux`` is in most
upstream charts); a node model without them places such workloads nowhere.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from edgewise.check import check_objects
from edgewise.k8s.inventory import Inventory, Source, inferred_nodes, instance_arch
from edgewise.spec import load_spec
from edgewise.topology import Topology, build_topology

ROOT = Path(__file__).resolve().parents[1]
LZ = "us-west-2-lax-1a"
EDGE_TOL = [{"key": "edgewise.dev/edge", "operator": "Exists", "effect": "NoSchedule"}]


@pytest.fixture(scope="module")
def topo() -> Topology:
    return build_topology(load_spec(ROOT / "examples/local-zones-hashicups/topology.yaml"))


def deploy(name: str, pod: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "c", "image": "x"}], **pod},
            },
        },
    }


def zones_of(topo: Topology, pod: dict[str, Any], *, edge_taints: bool = True) -> set[str]:
    inv = Inventory.from_objects([(deploy("w", pod), Source("m.yaml", 1, 0))], topo, edge_taints=edge_taints)
    return set(inv.workloads()[0].zones)


REGION = {"us-west-2a", "us-west-2b"}


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ({"kubernetes.io/os": "linux"}, REGION),
        ({"beta.kubernetes.io/os": "linux"}, REGION),
        ({"kubernetes.io/arch": "amd64"}, REGION),
        ({"beta.kubernetes.io/arch": "amd64"}, REGION),
        ({"node.kubernetes.io/instance-type": "m6i.large"}, REGION),
        ({"beta.kubernetes.io/instance-type": "m6i.large"}, REGION),
        ({"topology.kubernetes.io/region": "us-west-2"}, REGION),
        ({"failure-domain.beta.kubernetes.io/region": "us-west-2"}, REGION),
        ({"kubernetes.io/os": "windows"}, set()),
        ({"kubernetes.io/arch": "arm64"}, set()),  # m6i and c5d are x86
        ({"topology.kubernetes.io/region": "us-east-1"}, set()),
    ],
)
def test_kubelet_and_cloud_labels_select_nodes(topo: Topology, selector: dict[str, str], expected: set[str]) -> None:
    assert zones_of(topo, {"nodeSelector": selector}) == expected


def test_instance_type_label_tells_edge_nodes_apart(topo: Topology) -> None:
    edge = zones_of(
        topo, {"nodeSelector": {"node.kubernetes.io/instance-type": "c5d.2xlarge"}, "tolerations": EDGE_TOL}
    )
    assert edge == {z.name for z in topo.edge_zones}


def test_hostname_label_is_unique_per_node_and_exists_everywhere(topo: Topology) -> None:
    nodes = inferred_nodes(topo)
    hostnames = [n.labels["kubernetes.io/hostname"] for n in nodes]
    assert len(set(hostnames)) == len(nodes) == len(topo.zones)
    assert all(n.name == n.labels["kubernetes.io/hostname"] for n in nodes)
    # the usual anti-affinity/spread key exists on every node
    exists = {
        "affinity": {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [
                        {"matchExpressions": [{"key": "kubernetes.io/hostname", "operator": "Exists"}]}
                    ]
                }
            }
        },
        "tolerations": EDGE_TOL,
    }
    assert zones_of(topo, exists) == {z.name for z in topo.zones}
    # pinned to one node: that node's zone only
    lz_node = next(n for n in nodes if n.zone == LZ)
    pinned = {"nodeSelector": {"kubernetes.io/hostname": lz_node.name}, "tolerations": EDGE_TOL}
    assert zones_of(topo, pinned) == {LZ}


@pytest.mark.parametrize(
    ("instance_type", "arch"),
    [
        ("m6i.large", "amd64"),
        ("c5d.2xlarge", "amd64"),
        ("g5.xlarge", "amd64"),
        ("m7a.large", "amd64"),
        ("m6g.large", "arm64"),
        ("c6gn.xlarge", "arm64"),
        ("r7gd.large", "arm64"),
        ("t4g.medium", "arm64"),
        ("x2gd.large", "arm64"),
        ("im4gn.large", "arm64"),
        ("is4gen.large", "arm64"),
        ("g5g.xlarge", "arm64"),
        ("a1.large", "arm64"),
    ],
)
def test_instance_arch(instance_type: str, arch: str) -> None:
    assert instance_arch(instance_type) == arch


def test_unknown_instance_type_rules_out_neither_architecture() -> None:
    # a topology inferred from zone names has no node groups
    from edgewise.check.inputs import infer_topology

    topo = infer_topology([deploy("w", {"nodeSelector": {"topology.kubernetes.io/zone": LZ}})], [])
    assert topo is not None
    for arch in ("amd64", "arm64"):
        assert LZ in zones_of(topo, {"nodeSelector": {"kubernetes.io/arch": arch}}, edge_taints=False)


def test_os_selector_no_longer_hides_a_flat_service_over_local_zones(topo: Topology) -> None:
    """Upstream manifests select ``kubernetes.io/os: linux``: the workload must still be
    placed, so a Service spread over tolerated Local Zones is reported."""
    pod = {"nodeSelector": {"kubernetes.io/os": "linux"}, "tolerations": EDGE_TOL}
    svc = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "w", "namespace": "default"},
        "spec": {"selector": {"app": "w"}, "ports": [{"port": 80}]},
    }
    caller = deploy("caller", {"nodeSelector": {"kubernetes.io/os": "linux"}, "tolerations": EDGE_TOL})
    caller["spec"]["template"]["spec"]["containers"][0]["env"] = [{"name": "W_URL", "value": "http://w:80"}]
    report = check_objects(
        [(d, Source("m.yaml", i + 1, i)) for i, d in enumerate([deploy("w", pod), svc, caller])], topo
    )
    assert "EW301" in {f.rule for f in report.findings}
