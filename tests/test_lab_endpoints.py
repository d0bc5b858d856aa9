"""Differential test: the endpoint zones the route resolver uses for a Service must equal
the zones of the endpoints the real EndpointSlice controller publishes for it, hints
included.

Hypothesis generates, on the Local Zones example's nodes, Deployments pinned to zones
(labels from a small pool, named container ports or none) and Services over them:
selectors, target ports by number and by name, ``trafficDistribution: PreferClose``,
``internalTrafficPolicy``, and selectorless Services with manual EndpointSlices. Real
side: ready endpoints of the slices that carry one of the Service's ports (kube-proxy
routes nothing else), their zones and ``hints.forZones``. Model side:
``RouteResolver.service_endpoints`` zones; with PreferClose every endpoint must be
hinted to its own zone (what the resolver's same-zone-first tier assumes), without it
none may be hinted.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from edgewise.k8s.inventory import Inventory, Source
from edgewise.lab import Lab
from edgewise.lab.nodes import node_objects
from edgewise.routing import RouteResolver
from edgewise.spec import load_spec
from edgewise.topology import Topology, build_topology

EXAMPLES = 4
SERVICES_PER_EXAMPLE = 30  # 4 x 30 = 120 generated Services over 4 x 12 generated Deployments
WORKLOADS_PER_EXAMPLE = 12
_RUN = iter(range(1_000_000))
ROOT = Path(__file__).resolve().parents[1]
TOPOLOGY: Topology = build_topology(load_spec(ROOT / "examples" / "local-zones-hashicups" / "topology.yaml"))
ZONES = [z.name for z in TOPOLOGY.zones]
APPS = ["a", "b", "c"]
TIERS = ["x", "y"]
PORT_NAMES = ["http", "grpc"]


@st.composite
def deployments(draw: st.DrawFn, i: int) -> dict[str, Any]:
    zone = draw(st.sampled_from(ZONES))
    labels = {"app": draw(st.sampled_from(APPS))}
    if draw(st.booleans()):
        labels["tier"] = draw(st.sampled_from(TIERS))
    names = draw(st.lists(st.sampled_from(PORT_NAMES), max_size=2, unique=True))
    ports = [{"name": n, "containerPort": 8080 + k} for k, n in enumerate(names)]
    container: dict[str, Any] = {"name": "c", "image": "registry.k8s.io/pause:3.10"}
    if ports:
        container["ports"] = ports
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": f"d{i}"},
        "spec": {
            "replicas": draw(st.integers(1, 2)),
            "selector": {"matchLabels": {"wl": f"d{i}"}},
            "template": {
                "metadata": {"labels": {**labels, "wl": f"d{i}"}},
                "spec": {
                    "nodeSelector": {"edgewise.dev/zone": zone},
                    "tolerations": [{"key": "edgewise.dev/edge", "operator": "Exists"}],
                    "terminationGracePeriodSeconds": 0,
                    "containers": [container],
                },
            },
        },
    }


@st.composite
def services(draw: st.DrawFn, i: int) -> list[dict[str, Any]]:
    spec: dict[str, Any] = {}
    target = draw(st.sampled_from([80, 8080, *PORT_NAMES]))
    spec["ports"] = [{"name": "p", "port": 80, "targetPort": target}]
    if draw(st.booleans()):
        spec["ports"].append({"name": "q", "port": 81, "targetPort": draw(st.sampled_from(PORT_NAMES))})
    if draw(st.booleans()):
        spec["trafficDistribution"] = "PreferClose"
    if draw(st.booleans()):
        spec["internalTrafficPolicy"] = draw(st.sampled_from(["Cluster", "Local"]))
    svc: dict[str, Any] = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": f"s{i}"}, "spec": spec}
    if draw(st.integers(0, 4)) == 0:  # selectorless, with a manual EndpointSlice
        zones = draw(st.lists(st.sampled_from(ZONES), min_size=1, max_size=3))
        eps = [
            {"addresses": [f"192.0.2.{k + 1}"], "zone": TOPOLOGY.zone(z).k8s_zone,
             "conditions": {"ready": draw(st.sampled_from([True, False, None]))}}
            for k, z in enumerate(zones)
        ]
        for e in eps:
            if e["conditions"]["ready"] is None:
                del e["conditions"]
        manual = {
            "apiVersion": "discovery.k8s.io/v1",
            "kind": "EndpointSlice",
            "metadata": {"name": f"s{i}-manual", "labels": {"kubernetes.io/service-name": f"s{i}"}},
            "addressType": "IPv4",
            "ports": [{"name": "p", "port": 80}],
            "endpoints": eps,
        }
        return [svc, manual]
    selector = {"app": draw(st.sampled_from(APPS))}
    if draw(st.booleans()):
        selector["tier"] = draw(st.sampled_from(TIERS))
    spec["selector"] = selector
    return [svc]


def _real(slices: list[dict[str, Any]], svc: dict[str, Any], nodes: dict[str, str]) -> tuple[set[str], set[str]]:
    """(zones of routable ready endpoints, problems with their hints)."""
    name = svc["metadata"]["name"]
    port_names = {p["name"] for p in svc["spec"]["ports"]}
    prefer = svc["spec"].get("trafficDistribution") == "PreferClose"
    zones, hint_problems = set(), set()
    by_k8s = {z.k8s_zone: z.name for z in reversed(TOPOLOGY.zones)}
    for s in slices:
        if (s["metadata"].get("labels") or {}).get("kubernetes.io/service-name") != name:
            continue
        if not port_names & {p.get("name") for p in s.get("ports") or []}:
            continue
        for e in s.get("endpoints") or []:
            if (e.get("conditions") or {}).get("ready") is False:
                continue
            zone = nodes[e["nodeName"]] if e.get("nodeName") else by_k8s[e["zone"]]
            zones.add(zone)
            hinted = [h["name"] for h in (e.get("hints") or {}).get("forZones") or []]
            managed = (s["metadata"].get("labels") or {}).get("endpointslice.kubernetes.io/managed-by")
            if managed == "endpointslice-controller.k8s.io" and hinted != ([e["zone"]] if prefer else []):
                hint_problems.add(f"{e.get('nodeName')}: hints {hinted}")
    return zones, hint_problems


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_resolver_endpoint_zones_equal_the_endpointslice_controllers(lab: Lab, data: st.DataObject) -> None:
    deploys = [data.draw(deployments(i), label=f"deployment {i}") for i in range(WORKLOADS_PER_EXAMPLE)]
    svcs = [data.draw(services(i), label=f"service {i}") for i in range(SERVICES_PER_EXAMPLE)]
    namespace = f"endpoints-diff-{next(_RUN)}"
    objs = deploys + [x for group in svcs for x in group]
    for o in objs:
        o["metadata"]["namespace"] = namespace
    try:
        nodes = node_objects(TOPOLOGY)
        for n in nodes:
            lab.client.create(n)
            cap = n["status"]["capacity"]
            lab.client.patch_status(n, {"status": {"capacity": cap, "allocatable": cap}})
        lab.wait_nodes_ready([n["metadata"]["name"] for n in nodes])
        lab.apply(objs)
        expected_pods = sum(d["spec"]["replicas"] for d in deploys)
        node_zone = {n["metadata"]["name"]: n["metadata"]["labels"]["edgewise.dev/zone"] for n in nodes}
        selectors = [g[0] for g in svcs if g[0]["spec"].get("selector")]
        want = 0  # ready endpoints the controller must list (a pod counts once per selecting Service)
        for d in deploys:
            pod_labels = d["spec"]["template"]["metadata"]["labels"]
            for s in selectors:
                if all(pod_labels.get(k) == v for k, v in s["spec"]["selector"].items()):
                    want += d["spec"]["replicas"]

        last: list[tuple[str, str]] = []  # the previous poll's slice versions

        def settled() -> list[dict[str, Any]]:
            # Settled means: every pod is Ready, the controller lists exactly the ready
            # endpoints the selectors imply, and two polls in a row see the same slice
            # versions (the controller batches its writes; a count alone can be met while a
            # slice is still being rewritten).
            pods = lab.client.list("v1", "Pod", namespace)
            ready = [
                p for p in pods
                if p["status"].get("podIP") and any(
                    c.get("type") == "Ready" and c.get("status") == "True"
                    for c in p["status"].get("conditions") or []
                )
            ]
            if len(ready) < expected_pods:
                last.clear()
                return []
            slices = lab.client.list("discovery.k8s.io/v1", "EndpointSlice", namespace)
            have = {(s["metadata"].get("labels") or {}).get("kubernetes.io/service-name") for s in slices}
            if not all(s["metadata"]["name"] in have for s in selectors):
                last.clear()
                return []
            managed = [
                s for s in slices
                if (s["metadata"].get("labels") or {}).get("endpointslice.kubernetes.io/managed-by")
                == "endpointslice-controller.k8s.io"
            ]
            listed = sum(1 for s in managed for e in s.get("endpoints") or [])
            listed_ready = sum(
                1 for s in managed for e in s.get("endpoints") or [] if (e.get("conditions") or {}).get("ready")
            )
            versions = sorted((s["metadata"]["name"], s["metadata"]["resourceVersion"]) for s in slices)
            stable = versions == last
            last[:] = versions
            return slices if stable and listed == listed_ready == want else []

        slices = lab.client.wait("EndpointSlices for every selected pod", settled, timeout=180, interval=1.0)
        inventory = Inventory.from_objects([(o, Source("", 0, i)) for i, o in enumerate(objs)], TOPOLOGY)
        resolver = RouteResolver(inventory, TOPOLOGY)
        disagreements = []
        for group in svcs:
            svc = group[0]
            model_svc = inventory.service(namespace, svc["metadata"]["name"])
            assert model_svc is not None
            model = {e.zone for e in resolver.service_endpoints(model_svc)}
            real, hint_problems = _real(slices, svc, node_zone)
            if model != real or hint_problems or model_svc.prefers_zone != bool(
                svc["spec"].get("trafficDistribution")
            ):
                disagreements.append((svc, [x for x in group[1:]], sorted(model), sorted(real), sorted(hint_problems)))
        shown = "\n".join(f"  {d}" for d in disagreements[:6])
        assert disagreements == [], f"{len(disagreements)} of {len(svcs)} Services disagree:\n{shown}\n{deploys}"
    finally:
        lab.reset([namespace])
