"""Placement looks only at the nodes a pod's nodeSelector and required node affinity
leave possible (so it stays linear in zones); the answer must be the one a scan of every
node gives."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from edgewise.k8s.inventory import InferredNode, _NodeIndex, _placement, inferred_nodes, node_selector_matches
from edgewise.spec import load_spec
from edgewise.topology import build_topology

ROOT = Path(__file__).resolve().parents[1]
NODES = [n for ex in ("outposts", "local-zones-hashicups", "wavelength")
         for n in inferred_nodes(build_topology(load_spec(ROOT / "examples" / ex / "topology.yaml")))]
ZONE_KEYS = ["topology.kubernetes.io/zone", "edgewise.dev/zone", "edgewise.dev/role", "kubernetes.io/arch", "other"]
VALUES = [*sorted({v for n in NODES for k, v in n.labels.items() if k in ZONE_KEYS}), "nowhere", "1"]


def scan_all(pod_spec: dict[str, Any]) -> tuple[tuple[str, ...], str, bool]:
    """_placement over an index that rules nothing out."""
    index = _NodeIndex(NODES)
    index.candidates = lambda _spec: NODES  # type: ignore[method-assign]
    return _placement(pod_spec, index)


expressions = st.fixed_dictionaries({
    "key": st.sampled_from(ZONE_KEYS),
    "operator": st.sampled_from(["In", "NotIn", "Exists", "DoesNotExist", "Gt", "Bogus"]),
    "values": st.lists(st.sampled_from(VALUES), max_size=3),
})
terms = st.one_of(
    st.fixed_dictionaries({"matchExpressions": st.lists(expressions, max_size=3)}),
    st.just({"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["x"]}]}),
    st.just({}),
)
pod_specs = st.fixed_dictionaries({}, optional={
    "nodeSelector": st.dictionaries(st.sampled_from(ZONE_KEYS), st.sampled_from(VALUES), max_size=2),
    "affinity": st.fixed_dictionaries({"nodeAffinity": st.fixed_dictionaries({
        "requiredDuringSchedulingIgnoredDuringExecution": st.fixed_dictionaries(
            {"nodeSelectorTerms": st.lists(terms, max_size=3)})})}),
    "tolerations": st.sampled_from([[], [{"operator": "Exists"}],
                                    [{"key": "edgewise.dev/edge", "operator": "Exists"}]]),
})


@settings(max_examples=500, deadline=None)
@given(pod_specs)
def test_placement_through_the_index_equals_a_scan_of_every_node(pod_spec: dict[str, Any]) -> None:
    index = _NodeIndex(NODES)
    candidates = index.candidates(pod_spec)
    # a superset of the matching nodes, in node order
    matching: list[InferredNode] = [n for n in NODES if node_selector_matches(pod_spec, n.labels)]
    assert [n for n in candidates if n in matching] == matching
    assert candidates == sorted(candidates, key=NODES.index)
    assert _placement(pod_spec, index) == scan_all(pod_spec)


def test_a_pod_pinned_to_one_zone_is_matched_against_that_zone_only() -> None:
    zone = next(n.zone for n in NODES if n.labels.get("edgewise.dev/role") == "edge")
    pinned = {"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchExpressions": [{"key": "edgewise.dev/zone", "operator": "In", "values": [zone]}]}]}}}}
    assert {n.zone for n in _NodeIndex(NODES).candidates(pinned)} == {zone}
    assert len(_NodeIndex(NODES).candidates({})) == len(NODES)
