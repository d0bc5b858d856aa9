"""Differential test: the zones edgewise.k8s predicts for a workload must be exactly the
zones the real kube-scheduler binds it to.

Hypothesis generates topologies (Region AZs and edge zones with node groups of varied
instance types, labels and taints, registered as on AWS by edgewise.lab.nodes) and, per
topology, a batch of workloads over nodeSelector, required node affinity (every
operator, several terms, empty terms), tolerations (Equal/Exists, empty key, every
effect), the well-known node labels and topology spread constraints (nodeTaintsPolicy,
nodeAffinityPolicy, missing topology keys). Each workload becomes one probe pod per zone
(edgewise.lab.placement.zone_probes); all probes of a batch are created at once and the
scheduler's bindings are compared with Inventory's zones.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from edgewise.k8s.inventory import Inventory, Source
from edgewise.lab import Lab
from edgewise.lab.nodes import node_objects
from edgewise.lab.placement import create_pods, wait_settled, zone_probes
from edgewise.spec import Spec
from edgewise.spec.loader import Document
from edgewise.spec.models import Topology as TopologyModel
from edgewise.topology import Topology, build_topology

EXAMPLES = 5
WORKLOADS_PER_EXAMPLE = 110  # 5 x 110 = 550 generated workloads
_RUN = iter(range(1_000_000))

REGION = "us-east-1"
AZS = ["us-east-1a", "us-east-1b", "us-east-1c"]
EDGES = ["us-east-1-bos-1a", "us-east-1-chi-1a", "us-east-1-wl1-bos-wlz-1", "us-east-1-atl-1a"]
INSTANCE_TYPES = ["m6i.large", "m6g.large", "t3.xlarge", "c5d.2xlarge"]
CUSTOM_KEYS = ["tier", "team", "gen"]
CUSTOM_VALUES = ["a", "b", "c"]
GEN_VALUES = ["1", "5", "9"]  # for Gt/Lt
TAINT_KEYS = ["dedicated", "gpu", "edgewise.dev/edge"]
WELL_KNOWN = [
    "kubernetes.io/os",
    "kubernetes.io/arch",
    "beta.kubernetes.io/arch",
    "node.kubernetes.io/instance-type",
    "topology.kubernetes.io/zone",
    "topology.kubernetes.io/region",
    "failure-domain.beta.kubernetes.io/zone",
    "edgewise.dev/role",
    "edgewise.dev/zone-type",
    "edgewise.dev/parent-region",
]


def _values_for(key: str) -> list[str]:
    return {
        "kubernetes.io/os": ["linux", "windows"],
        "kubernetes.io/arch": ["amd64", "arm64"],
        "beta.kubernetes.io/arch": ["amd64", "arm64"],
        "node.kubernetes.io/instance-type": INSTANCE_TYPES,
        "topology.kubernetes.io/zone": AZS + EDGES[:2],
        "failure-domain.beta.kubernetes.io/zone": AZS + EDGES[:2],
        "topology.kubernetes.io/region": [REGION, "us-west-2"],
        "edgewise.dev/role": ["region", "edge"],
        "edgewise.dev/zone-type": ["availability-zone", "local", "wavelength"],
        "edgewise.dev/parent-region": ["true"],
        "gen": GEN_VALUES,
    }.get(key, CUSTOM_VALUES)


@st.composite
def topologies(draw: st.DrawFn) -> Topology:
    azs = draw(st.lists(st.sampled_from(AZS), min_size=1, max_size=3, unique=True))
    edges = draw(st.lists(st.sampled_from(EDGES), min_size=1, max_size=3, unique=True))
    zones = []
    for name in sorted(azs) + sorted(edges):
        labels = draw(st.dictionaries(st.sampled_from(CUSTOM_KEYS), st.sampled_from(CUSTOM_VALUES), max_size=2))
        if "gen" in labels:
            labels["gen"] = draw(st.sampled_from(GEN_VALUES))
        taints = draw(
            st.lists(
                st.fixed_dictionaries(
                    {
                        "key": st.sampled_from(TAINT_KEYS[:2]),
                        "value": st.sampled_from(["", "x"]),
                        "effect": st.sampled_from(["NoSchedule", "NoExecute", "PreferNoSchedule"]),
                    }
                ),
                max_size=2,
                unique_by=lambda t: (t["key"], t["effect"]),
            )
        )
        zones.append(
            {
                "name": name,
                "nodeGroup": {
                    "instanceType": draw(st.sampled_from(INSTANCE_TYPES)),
                    "desired": draw(st.integers(1, 2)),
                    "labels": labels,
                    "taints": taints,
                },
            }
        )
    data = {
        "apiVersion": "edgewise.dev/v1alpha1",
        "kind": "Topology",
        "metadata": {"name": "diff"},
        "spec": {"region": REGION, "zones": zones},
    }
    model = TopologyModel.model_validate(data)
    return build_topology(Spec(topology=model, topology_doc=Document("<generated>", 0, 0, data), applications=()))


KEYS = st.sampled_from(WELL_KNOWN + CUSTOM_KEYS + ["kubernetes.io/hostname", "absent.example.com/key"])


@st.composite
def expressions(draw: st.DrawFn) -> dict[str, Any]:
    key = draw(KEYS)
    op = draw(st.sampled_from(["In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt"]))
    if key == "kubernetes.io/hostname" and op not in ("Exists", "DoesNotExist"):
        op = "Exists"  # node names are the node's own; the model knows zones, not hosts
    if op in ("Exists", "DoesNotExist"):
        return {"key": key, "operator": op}
    if op in ("Gt", "Lt"):
        key = "gen" if draw(st.booleans()) else key
        return {"key": key, "operator": op, "values": [draw(st.sampled_from(GEN_VALUES))]}
    values = draw(st.lists(st.sampled_from(_values_for(key)), min_size=1, max_size=2, unique=True))
    return {"key": key, "operator": op, "values": values}


@st.composite
def tolerations(draw: st.DrawFn) -> dict[str, Any]:
    key = draw(st.sampled_from([*TAINT_KEYS, ""]))
    op = "Exists" if key == "" else draw(st.sampled_from(["Equal", "Exists"]))
    t: dict[str, Any] = {"operator": op}
    if key:
        t["key"] = key
    if op == "Equal":
        t["value"] = draw(st.sampled_from(["", "x", "true"]))
    effect = draw(st.sampled_from(["", "NoSchedule", "NoExecute", "PreferNoSchedule"]))
    if effect:
        t["effect"] = effect
    return t


@st.composite
def spreads(draw: st.DrawFn) -> dict[str, Any]:
    c: dict[str, Any] = {
        "maxSkew": draw(st.integers(1, 2)),
        "topologyKey": draw(
            st.sampled_from(["topology.kubernetes.io/zone", "kubernetes.io/hostname", "tier", "absent.example.com/key"])
        ),
        "whenUnsatisfiable": draw(st.sampled_from(["DoNotSchedule", "ScheduleAnyway"])),
        "labelSelector": {"matchLabels": {"x": "y"}},  # replaced per probe
    }
    for field, choices in (("nodeTaintsPolicy", ["Honor", "Ignore"]), ("nodeAffinityPolicy", ["Honor", "Ignore"])):
        choice = draw(st.sampled_from([None, *choices]))
        if choice:
            c[field] = choice
    if c["whenUnsatisfiable"] == "DoNotSchedule" and draw(st.booleans()):
        c["minDomains"] = draw(st.integers(1, 4))
    return c


@st.composite
def pod_specs(draw: st.DrawFn) -> dict[str, Any]:
    spec: dict[str, Any] = {}
    selector = draw(st.dictionaries(KEYS.filter(lambda k: k != "kubernetes.io/hostname"), st.just(""), max_size=2))
    if selector:
        spec["nodeSelector"] = {k: draw(st.sampled_from(_values_for(k))) for k in selector}
    if draw(st.booleans()):
        terms = draw(
            st.lists(st.lists(expressions(), min_size=0, max_size=3), min_size=1, max_size=3)
        )
        spec["affinity"] = {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [{"matchExpressions": t} if t else {} for t in terms]
                }
            }
        }
    tols = draw(st.lists(tolerations(), max_size=3))
    if tols:
        spec["tolerations"] = tols
    spread = draw(st.lists(spreads(), max_size=2, unique_by=lambda c: (c["topologyKey"], c["whenUnsatisfiable"])))
    if spread:
        spec["topologySpreadConstraints"] = spread
    spec["containers"] = [{"name": "c", "image": "registry.k8s.io/pause:3.10"}]
    return spec


def _register(lab: Lab, topology: Topology) -> None:
    nodes = node_objects(topology)
    for n in nodes:
        # room for every probe: capacity is not what this test is about
        n["status"]["capacity"]["pods"] = n["status"]["allocatable"]["pods"] = "1000"
        lab.add_node(n["metadata"]["name"], labels=n["metadata"]["labels"], taints=n["spec"].get("taints", []),
                     capacity=n["status"]["capacity"], annotations=n["metadata"]["annotations"], wait=False)
    lab.wait_nodes_ready([n["metadata"]["name"] for n in nodes])


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    phases=[Phase.explicit, Phase.generate],  # a shrink would re-run hundreds of pods per step
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_inferred_zones_equal_the_schedulers(lab: Lab, data: st.DataObject) -> None:
    topology = data.draw(topologies(), label="topology")
    specs = [data.draw(pod_specs(), label=f"workload {i}") for i in range(WORKLOADS_PER_EXAMPLE)]
    zones = [z.name for z in topology.zones]
    namespace = f"placement-diff-{next(_RUN)}"
    try:
        _register(lab, topology)
        lab.ensure_namespaces([namespace])
        pods = []
        for i, spec in enumerate(specs):
            pods += zone_probes(f"w{i}", spec, zones, namespace)
        create_pods(lab.client, pods)
        outcomes = wait_settled(lab.client, namespace, len(pods))
        nodes = {n["metadata"]["name"]: n["metadata"]["annotations"]["edgewise.dev/zone"]
                 for n in lab.client.list("v1", "Node")}
        objects = [
            ({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": f"w{i}", "namespace": namespace}, "spec": s},
             Source("", 0, i))
            for i, s in enumerate(specs)
        ]
        inventory = Inventory.from_objects(objects, topology)
        predicted = {w.name: set(w.zones) for w in inventory.workloads()}
        disagreements = []
        for i, spec in enumerate(specs):
            real = {nodes[o.node] for o in outcomes.values() if o.bound and o.name.startswith(f"w{i}-")}
            if real != predicted[f"w{i}"]:
                reasons = {o.name: o.reason for o in outcomes.values() if o.name.startswith(f"w{i}-") and o.reason}
                disagreements.append((spec, sorted(predicted[f"w{i}"]), sorted(real), reasons))
        shown = "\n".join(
            f"  {spec}\n    model {model} scheduler {real} {why}" for spec, model, real, why in disagreements[:8]
        )
        assert disagreements == [], (
            f"{len(disagreements)} of {len(specs)} workloads placed differently:\n{shown}\nnodes: "
            + str([(n["metadata"]["name"], n["metadata"]["labels"], n["spec"].get("taints"))
                   for n in node_objects(topology)])
        )
    finally:
        lab.reset([namespace])
