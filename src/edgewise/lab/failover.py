"""Edge failover without a mesh, on real parts: the scenarios of docs/failover-without-a-mesh.md.

One topology (two Region AZs, three Local Zones in us-east-1) and one application
(``web`` calls ``api``, both in every zone and the Region). The lab's control plane
(kube-apiserver, scheduler, controller-manager, kwok) runs the cluster; the real
``edgewise controller run`` (kopf, Lease election) fans the ``EdgeApplication`` out and
keeps the edge endpoints; :class:`~edgewise.lab.dataplane.DataPlane` gives every zone a
network namespace with the real kube-proxy, every ``api`` pod an HTTP server on its IP,
and drops sibling-edge traffic.

Scenarios (:func:`run`), each measured from inside a zone by a prober that opens a new
connection to the zone's Service every 20 ms:

* ``steady``: every request is answered in the caller's own zone;
* ``zone-down``: every ``api`` pod of one zone dies (server gone, pod unready): the
  zone's requests succeed via the Region after a measured time; the router's counters
  show no packet sent toward a sibling edge zone;
* ``zone-back``: the pods return: traffic returns to the zone, measured;
* ``prefer-close``: the hazard EW302 warns about: one plain Service over every zone's
  pods with ``trafficDistribution: PreferClose``; when a zone's pods are gone, the real
  kube-proxy falls back to every endpoint, sibling edges included, and those
  connections fail (counted at the router).

``edgewise simulate``'s prediction for the same topology and failure is computed
alongside (:func:`predictions`).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..plan.cluster.controller import controller_objects
from ..spec import Spec, ZoneType, load_spec
from ..topology import Topology, build_topology
from .client import ApiError, Client
from .control_plane import Lab
from .dataplane import DataPlane, Probe, ZoneNet, die_with_parent
from .nodes import node_objects

__all__ = [
    "OUTPOSTS_SPEC", "SPEC", "Measured", "Setup", "down_and_back", "outpost_failover", "outpost_predictions",
    "outposts_spec", "predictions", "prefer_close", "run", "setup", "steady", "wait_namespaces_gone",
]

SPEC = """\
apiVersion: edgewise.dev/v1alpha1
kind: Topology
metadata: {name: failover}
spec:
  region: us-east-1
  zones:
    - {name: us-east-1a, nodeGroup: {instanceType: m6i.large, desired: 1}}
    - {name: us-east-1b, nodeGroup: {instanceType: m6i.large, desired: 1}}
    - {name: us-east-1-bos-1a, nodeGroup: {instanceType: c5d.2xlarge, desired: 1}}
    - {name: us-east-1-mia-1a, nodeGroup: {instanceType: c5d.2xlarge, desired: 1}}
    - {name: us-east-1-dfw-1a, nodeGroup: {instanceType: c5d.2xlarge, desired: 1}}
---
apiVersion: edgewise.dev/v1alpha1
kind: Application
metadata: {name: shop}
spec:
  routing: kubernetes
  ingress: none
  services:
    - {name: web, image: web:1, port: 80, calls: [api]}
    - {name: api, image: api:1, port: 8080, replicas: 1, regionReplicas: 2}
"""
APP = "shop"
SERVICE = "api"
PORT = 8080
#: probe timeout of the edgewise scenarios: loopback answers in milliseconds, but a
#: machine shared with other work can stall a process for a good fraction of a second
TIMEOUT = 2.0


def spec(text: str = SPEC) -> tuple[Spec, Topology]:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "failover.yaml"
        path.write_text(text, encoding="utf-8")
        s = load_spec(path)
    return s, build_topology(s)


@dataclass
class Measured:
    """What one scenario measured (times in seconds)."""

    name: str
    zone: str
    requests: int = 0
    ok: int = 0
    served_by: dict[str, int] = field(default_factory=dict)  # answering zone -> requests
    errors: dict[str, int] = field(default_factory=dict)
    sibling_packets: int = 0  # packets the router dropped toward sibling edge zones
    #: packets the router forwarded toward other Outposts (local gateways, outpostIntraVpc)
    outpost_packets: int = 0
    switch_s: float | None = None  # event -> first request answered by the new tier

    @property
    def success_rate(self) -> float:
        return self.ok / self.requests if self.requests else 0.0

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "zone": self.zone, "requests": self.requests,
                "success_rate": round(self.success_rate, 4), "served_by": dict(sorted(self.served_by.items())),
                "errors": dict(sorted(self.errors.items())), "sibling_packets": self.sibling_packets,
                "outpost_packets": self.outpost_packets,
                "switch_s": None if self.switch_s is None else round(self.switch_s, 3)}


def _tally(name: str, zone: str, results: list[tuple[float, bool, str]]) -> Measured:
    m = Measured(name, zone, requests=len(results))
    for _, ok, who in results:
        if ok:
            m.ok += 1
            m.served_by[who] = m.served_by.get(who, 0) + 1
        else:
            m.errors[who] = m.errors.get(who, 0) + 1
    return m


@dataclass
class Setup:
    lab: Lab
    topology: Topology
    dp: DataPlane
    controller: subprocess.Popen[bytes]
    zone_of_node: dict[str, str]
    #: pods this harness runs: (namespace, name) -> (pod object, IP)
    served: dict[tuple[str, str], tuple[dict[str, Any], str]] = field(default_factory=dict)
    stop: threading.Event = field(default_factory=threading.Event)

    def pods(self, namespace: str | None = None, service: str = SERVICE) -> list[dict[str, Any]]:
        sel = f"app.kubernetes.io/part-of={APP},edgewise.dev/service={service}"
        return [p for p in self.lab.client.list("v1", "Pod", namespace or "", label_selector=sel)
                if (p.get("status") or {}).get("podIP")]

    def pod_zone(self, pod: dict[str, Any]) -> str:
        return self.zone_of_node[pod["spec"]["nodeName"]]

    def die(self, pods: list[dict[str, Any]]) -> None:
        """The pods' processes die: servers stop, then the pods turn unready."""
        for pod in pods:
            self.dp.kill(pod["status"]["podIP"], PORT)
        self.set_ready(pods, False)

    def live(self, pods: list[dict[str, Any]]) -> None:
        """The pods come back: servers answer, then the pods turn Ready."""
        self.serve_all(pods)
        self.set_ready(pods, True)

    def serve_all(self, pods: list[dict[str, Any]]) -> None:
        for p in pods:
            zone = self.pod_zone(p)
            self.dp.serve(zone, p["status"]["podIP"], PORT, {"zone": zone, "pod": p["metadata"]["name"]})
            self.served[(p["metadata"]["namespace"], p["metadata"]["name"])] = (p, p["status"]["podIP"])

    def set_ready(self, pods: list[dict[str, Any]], ready: bool, client: Client | None = None) -> None:
        value = "True" if ready else "False"
        for p in pods:
            conds = [c for c in (p.get("status") or {}).get("conditions") or []
                     if c.get("type") not in ("Ready", "ContainersReady")]
            conds += [{"type": "Ready", "status": value}, {"type": "ContainersReady", "status": value}]
            (client or self.lab.client).patch_status({**p, "apiVersion": "v1", "kind": "Pod"},
                                                     {"status": {"conditions": conds}})

    def diagnose(self, namespace: str) -> str:
        """The zone's EndpointSlices and pods' readiness, for a failure message."""
        slices = self.lab.client.list("discovery.k8s.io/v1", "EndpointSlice", namespace)
        eps = {s["metadata"]["name"]: [(e["addresses"][0], (e.get("conditions") or {}).get("ready"))
                                        for e in s.get("endpoints") or []] for s in slices}
        pods = {p["metadata"]["name"]: [(c["type"], c["status"]) for c in
                                        (p.get("status") or {}).get("conditions") or [] if c["type"] == "Ready"]
                for p in self.pods(namespace)}
        region = {p["metadata"]["name"]: (p["status"].get("podIP"), [(c["type"], c["status"]) for c in
                                            p["status"].get("conditions") or [] if c["type"] == "Ready"])
                  for p in self.pods(_namespace_region())}
        log = (self.dp.workdir / "controller.log").read_text(errors="replace").splitlines()
        tail = [ln for ln in log if "edgewise.controller" in ln][-6:]
        nodes = {n["metadata"]["name"]: [(c["type"], c["status"], c.get("reason")) for c in
                                          n["status"].get("conditions") or [] if c["type"] == "Ready"]
                 for n in self.lab.client.list("v1", "Node")}
        return (f"nodes {nodes}, EndpointSlices {eps}, pods {pods}, Region pods {region}, "
                f"controller alive: {self.controller.poll() is None}, controller log: {tail}")

    def cluster_ip(self, namespace: str, name: str = SERVICE) -> str:
        svc = self.lab.client.get("v1", "Service", name, namespace)
        assert svc is not None, f"no Service {namespace}/{name}"
        return str(svc["spec"]["clusterIP"])

    def sibling_packets(self, zone: str) -> int:
        return sum(n for (a, _b), n in self.dp.dropped().items() if a == zone)

    def outpost_packets(self, zone: str) -> int:
        return sum(n for (a, _b), n in self.dp.between_edges().items() if a == zone)

    def slice_ips(self, namespace: str, name: str = SERVICE) -> set[str]:
        """The addresses in the controller's EndpointSlice for ``namespace/name``."""
        got = self.lab.client.get("discovery.k8s.io/v1", "EndpointSlice", f"{name}-edgewise", namespace) or {}
        return {a for e in got.get("endpoints") or () for a in e.get("addresses") or ()}

    def slice_source(self, namespace: str, name: str = SERVICE) -> str | None:
        """The tier the controller's EndpointSlice for ``namespace/name`` was filled from."""
        from ..controller.endpoints import SOURCE_ANNOTATION

        got = self.lab.client.get("discovery.k8s.io/v1", "EndpointSlice", f"{name}-edgewise", namespace)
        return None if got is None else str((got["metadata"].get("annotations") or {}).get(SOURCE_ANNOTATION))


def _namespace_region() -> str:
    from ..plan.apps.names import region_namespace

    return region_namespace(APP)


def _namespace(topology: Topology, zone: str) -> str:
    from ..plan.apps.names import zone_namespace

    return zone_namespace(APP, topology.zone(zone))


@contextmanager
def setup(lab: Lab, *, text: str = SPEC, timeout: float = 90.0) -> Iterator[Setup]:
    """Nodes, data plane, the controller and the EdgeApplication, all pods served
    (``text``: the spec, :data:`SPEC` or :func:`outposts_spec`)."""
    s, topology = spec(text)
    nodes = node_objects(topology)
    zone_of_node = {}
    for n in nodes:
        lab.client.create(n)
        cap = n["status"]["capacity"]
        lab.client.patch_status(n, {"status": {"capacity": cap, "allocatable": cap}})
        zone_of_node[n["metadata"]["name"]] = n["metadata"]["labels"]["edgewise.dev/zone"]
    lab.wait_nodes_ready(zone_of_node)
    node_of_zone = {z: n for n, z in zone_of_node.items()}
    zones = [ZoneNet(z.name, z.kind, node_of_zone[z.name]) for z in topology.zones]
    wait_namespaces_gone(lab, ["edgewise-system", *[n for n in _app_namespaces(lab)]])
    # CRD, namespace, RBAC (the Deployment itself is not run: the controller runs here)
    objs = [o for o in controller_objects(topology) if o["kind"] not in ("Deployment", "PodDisruptionBudget")]
    lab.apply(objs)  # the CRD is established and discovered when it returns
    app = next(a for a, _ in s.applications)
    lab.client.create({"apiVersion": "edgewise.dev/v1alpha1", "kind": "EdgeApplication",
                       "metadata": {"name": APP}, "spec": app.spec.model_dump(by_alias=True, mode="json",
                                                                              exclude_none=True)})
    with DataPlane(lab, zones, outpost_intra_vpc=topology.outpost_intra_vpc) as dp:
        log = open(dp.workdir / "controller.log", "wb")  # noqa: SIM115
        env = {**os.environ, "KUBECONFIG": str(lab.kubeconfig), "POD_NAME": "lab-controller"}
        controller = subprocess.Popen(
            [sys.executable, "-m", "edgewise", "controller", "run", "--namespace", "edgewise-system",
             "--lease", "edgewise-controller", *(["--outpost-intra-vpc"] if topology.outpost_intra_vpc else [])],
            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=die_with_parent)
        try:
            # pods change readiness only through set_ready (the harness plays the kubelet's
            # readiness probe); the lab's controller manager never marks them NotReady for a
            # late kwok heartbeat (edgewise.lab.control_plane.NODE_MONITOR_GRACE_PERIOD)
            st = Setup(lab, topology, dp, controller, zone_of_node)
            want = len(topology.edge_zones) + 2  # one api pod per edge zone, two in the Region

            def ready() -> bool:
                """The fan-out is final and its api pods are the ones that stay: the
                EdgeApplication's status counts every zone (the last fan-out saw all the
                nodes, so no Deployment template changes after it), every api Deployment
                has rolled out that template, and exactly the wanted pods exist. Serving
                pods earlier could serve those of a ReplicaSet being replaced and leave
                the final pods without a server (connections to them time out)."""
                if controller.poll() is not None:
                    raise RuntimeError(f"the controller exited; see {dp.workdir}/controller.log")
                body = lab.client.get("edgewise.dev/v1alpha1", "EdgeApplication", APP) or {}
                if (body.get("status") or {}).get("zonesTotal") != len(topology.edge_zones) + 1:
                    return False
                deployments = [d for d in lab.client.list("apps/v1", "Deployment", "",
                                                          label_selector=f"app.kubernetes.io/part-of={APP}")
                               if d["metadata"]["name"] == SERVICE]
                if len(deployments) != len(topology.edge_zones) + 1:
                    return False
                for d in deployments:
                    status = d.get("status") or {}
                    if status.get("observedGeneration") != d["metadata"].get("generation"):
                        return False
                    replicas = d["spec"].get("replicas", 1)
                    if not status.get("updatedReplicas") == status.get("replicas") == replicas:
                        return False
                pods = st.pods()
                return len(pods) == want and not any(p["metadata"].get("deletionTimestamp") for p in pods)

            lab.client.wait("the fanned-out api pods", ready, timeout=timeout, interval=0.2)
            st.serve_all(st.pods())
            for z in topology.edge_zones:
                ip = None

                def served(z: Any = z) -> bool:
                    nonlocal ip
                    ip = ip or _cluster_ip_or_none(lab, _namespace(topology, z.name))
                    return ip is not None and dp.get(z.name, f"http://{ip}:{PORT}/", 0.5) == (True, z.name)

                lab.client.wait(f"{z.name} served by its own pod", served, timeout=timeout, interval=0.2)
            yield st
        finally:
            if "st" in locals():
                st.stop.set()
            controller.terminate()
            try:
                controller.wait(timeout=10)
            except subprocess.TimeoutExpired:
                controller.kill()


def _app_namespaces(lab: Lab) -> list[str]:
    return [n["metadata"]["name"] for n in lab.client.list("v1", "Namespace") if n["metadata"]["name"].startswith(APP)]


def remove(lab: Lab) -> None:
    """Take off a shared lab what :func:`setup` put there: the EdgeApplication, the
    application's namespaces, ``edgewise-system`` and the EdgeApplication CRD."""
    namespaces = [n["metadata"]["name"] for n in lab.client.list("v1", "Namespace")
                  if n["metadata"]["name"].startswith(APP) or n["metadata"]["name"] == "edgewise-system"]
    with contextlib.suppress(ApiError):
        lab.client.delete("edgewise.dev/v1alpha1", "EdgeApplication", APP)
    lab.reset(namespaces)
    with contextlib.suppress(ApiError):
        lab.client.delete("apiextensions.k8s.io/v1", "CustomResourceDefinition", "edgeapplications.edgewise.dev")


def wait_namespaces_gone(lab: Lab, names: list[str], timeout: float = 90.0) -> None:
    """Wait until namespaces (and the EdgeApplication CRD) an earlier user of the lab
    deleted are gone: a terminating namespace or CRD refuses new objects."""

    def gone() -> bool:
        for n in names:
            ns = lab.client.get("v1", "Namespace", n)
            if ns is not None and (ns.get("status") or {}).get("phase") == "Terminating":
                return False
        crd = lab.client.get("apiextensions.k8s.io/v1", "CustomResourceDefinition", "edgeapplications.edgewise.dev")
        return crd is None or not crd["metadata"].get("deletionTimestamp")

    lab.client.wait("terminating namespaces and the EdgeApplication CRD to go", gone, timeout=timeout, interval=0.2)


def _cluster_ip_or_none(lab: Lab, namespace: str) -> str | None:
    svc = lab.client.get("v1", "Service", SERVICE, namespace)
    return None if svc is None else str(svc["spec"]["clusterIP"])


def _probe(st: Setup, zone: str, url: str, seconds: float) -> list[tuple[float, bool, str]]:
    p: Probe = st.dp.probe(zone, url)
    time.sleep(seconds)
    p.stop.set()
    return p.results


def steady(st: Setup, seconds: float = 2.0) -> list[Measured]:
    """Every edge zone requests its own Service concurrently."""
    t = st.topology
    probes = {z.name: st.dp.probe(z.name, f"http://{st.cluster_ip(_namespace(t, z.name))}:{PORT}/", timeout=TIMEOUT)
              for z in t.edge_zones}
    before = {z.name: st.sibling_packets(z.name) for z in t.edge_zones}
    time.sleep(seconds)
    out = []
    for z, p in probes.items():
        p.stop.set()
        m = _tally("steady", z, p.results)
        m.sibling_packets = st.sibling_packets(z) - before[z]
        out.append(m)
    return out


def down_and_back(st: Setup, zone: str, seconds: float = 2.0) -> list[Measured]:
    """``zone``'s api pods die (server gone, pod unready), then come back.

    Returns ``zone-down`` (after the switch), ``zone-down-transition`` (from the pods'
    death to the first answer from the Region) and ``zone-back`` (after traffic returned).
    """
    t = st.topology
    ns = _namespace(t, zone)
    url = f"http://{st.cluster_ip(ns)}:{PORT}/"
    region = {z.name for z in t.region_zones}
    local = st.pods(ns)
    before = st.sibling_packets(zone)
    p = st.dp.probe(zone, url, timeout=TIMEOUT)
    time.sleep(0.3)
    t0 = time.time()
    st.die(local)

    def first(pred: Any, since: float) -> float | None:
        return next((r[0] for r in list(p.results) if r[0] > since and r[1] and pred(r[2])), None)

    try:
        st.dp.wait_for("failover to the Region", lambda: first(region.__contains__, t0) is not None, timeout=30)
    except TimeoutError as exc:
        raise TimeoutError(f"{exc}: {st.diagnose(ns)}; last answers {p.results[-3:]}") from None
    switch = (first(region.__contains__, t0) or t0) - t0
    t1 = time.time()
    time.sleep(seconds)
    down = _tally("zone-down", zone, p.window(t1))
    down.switch_s = switch
    transition = _tally("zone-down-transition", zone, p.window(t0, t1))
    transition.switch_s = switch
    down.sibling_packets = transition.sibling_packets = st.sibling_packets(zone) - before
    t2 = time.time()
    st.live(local)
    st.dp.wait_for("traffic back in the zone", lambda: first(zone.__eq__, t2) is not None, timeout=30)
    back_s = (first(zone.__eq__, t2) or t2) - t2
    t3 = time.time()
    time.sleep(seconds)
    p.stop.set()
    back = _tally("zone-back", zone, p.window(t3))
    back.switch_s = back_s
    back.sibling_packets = st.sibling_packets(zone) - before
    return [down, transition, back]


def run(st: Setup, *, zone: str = "us-east-1-bos-1a", seconds: float = 2.0) -> list[Measured]:
    """The four scenarios on a :func:`setup`; returns their measurements."""
    return [*steady(st, seconds), *down_and_back(st, zone, seconds), prefer_close(st, zone, seconds)]


def prefer_close(st: Setup, zone: str, seconds: float = 2.0) -> Measured:
    """The hazard: ``edgewise simulate``'s own prefer-close strategy objects for ``api``
    (one namespace, a Deployment per zone, one Service with PreferClose) on real parts."""
    from ..simulate.strategies import baseline_objects

    s, t = spec()
    app = next(a for a, _ in s.applications)
    objs = [o for o in baseline_objects(t, app, "prefer-close")
            if o["kind"] == "Namespace" or o["metadata"]["name"] == SERVICE
            or o["metadata"]["name"].startswith(f"{SERVICE}-")]
    svc = next(o for o in objs if o["kind"] == "Service")
    ns = svc["metadata"]["namespace"]
    want = sum(o["spec"]["replicas"] for o in objs if o["kind"] == "Deployment")
    lab = st.lab
    lab.apply(objs)
    selector = ",".join(f"{k}={v}" for k, v in svc["spec"]["selector"].items())

    def pods() -> list[dict[str, Any]]:
        return [p for p in lab.client.list("v1", "Pod", ns, label_selector=selector)
                if (p.get("status") or {}).get("podIP")]

    lab.client.wait("the prefer-close pods", lambda: len(pods()) == want, timeout=60, interval=0.2)
    st.serve_all(pods())
    url = f"http://{st.cluster_ip(ns)}:{PORT}/"
    st.dp.wait_for("PreferClose keeps the zone local", lambda: st.dp.get(zone, url, 0.5) == (True, zone), timeout=30)
    local = [p for p in pods() if st.pod_zone(p) == zone]
    st.die(local)
    # kube-proxy stops sending to the dead local pod: someone else answers, or nobody
    st.dp.wait_for("PreferClose fallback",
                   lambda: st.dp.get(zone, url, 0.2)[1] not in (zone, "ConnectionRefusedError"), timeout=30)
    before = st.sibling_packets(zone)
    p = st.dp.probe(zone, url, timeout=0.2)
    time.sleep(seconds)
    p.stop.set()
    m = _tally("prefer-close", zone, p.results)
    m.sibling_packets = st.sibling_packets(zone) - before
    return m


def predictions(zone: str = "us-east-1-bos-1a", requests: int = 2000) -> dict[str, float]:
    """``edgewise simulate``'s success rate for ``zone``'s users when ``zone``'s api copy
    is down: edgewise (kubernetes backend, the controller) and prefer-close."""
    from ..simulate import simulate

    s, topology = spec()
    res = simulate(s, topology, requests=requests, strategies=["edgewise", "prefer-close"],
                   scenarios=["steady", f"copy-down:{zone}/{SERVICE}"])
    out = {}
    for name in ("edgewise", "prefer-close"):
        strat = res.strategy(name)
        out[f"{name}/steady"] = strat.scenario("steady").per_zone[zone].success_rate
        out[f"{name}/copy-down"] = strat.scenario(f"copy-down:{zone}/{SERVICE}").per_zone[zone].success_rate
    return out


#: two Outposts (and a Local Zone) of one VPC; ``{intra}`` is outpostIntraVpc
OUTPOSTS_SPEC = """\
apiVersion: edgewise.dev/v1alpha1
kind: Topology
metadata: {{name: outposts-failover}}
spec:
  region: us-west-2
  vpc: {{cidr: 10.0.0.0/16}}
  outpostIntraVpc: {intra}
  zones:
    - {{name: us-west-2a, subnet: {{cidr: 10.0.1.0/24}}, nodeGroup: {{instanceType: m5.large, desired: 1}}}}
    - {{name: us-west-2b, subnet: {{cidr: 10.0.2.0/24}}, nodeGroup: {{instanceType: m5.large, desired: 1}}}}
    - {{name: us-west-2-lax-1a, subnet: {{cidr: 10.0.5.0/24}}, nodeGroup: {{instanceType: c5d.2xlarge, desired: 1}}}}
    - name: outpost-1
      type: outpost
      outpostArn: arn:aws:outposts:us-west-2:111122223333:outpost/op-0a1b2c3d4e5f60001
      localGatewayId: lgw-0a1b2c3d4e5f60001
      localGatewayRouteTableId: lgw-rtb-0a1b2c3d4e5f60001
      parentZone: us-west-2a
      subnet: {{cidr: 10.0.3.0/24}}
      nodeGroup: {{instanceType: m5.xlarge, desired: 1}}
    - name: outpost-2
      type: outpost
      outpostArn: arn:aws:outposts:us-west-2:111122223333:outpost/op-0a1b2c3d4e5f60002
      localGatewayId: lgw-0a1b2c3d4e5f60002
      localGatewayRouteTableId: lgw-rtb-0a1b2c3d4e5f60002
      parentZone: us-west-2b
      subnet: {{cidr: 10.0.4.0/24}}
      nodeGroup: {{instanceType: m5.xlarge, desired: 1}}
---
apiVersion: edgewise.dev/v1alpha1
kind: Application
metadata: {{name: shop}}
spec:
  routing: kubernetes
  ingress: none
  services:
    - {{name: web, image: web:1, port: 80, calls: [api]}}
    - {{name: api, image: api:1, port: 8080, replicas: 1, regionReplicas: 2}}
"""


def outposts_spec(intra_vpc: bool) -> str:
    """Region us-west-2 (two AZs), Local Zone us-west-2-lax-1a and Outposts outpost-1
    and outpost-2, with or without outpostIntraVpc; the ``shop`` application."""
    return OUTPOSTS_SPEC.format(intra="true" if intra_vpc else "false")


def outpost_failover(st: Setup, zone: str = "outpost-1", seconds: float = 1.5) -> list[Measured]:
    """``zone``'s api copy dies, then the Region's too; then the Region's comes back,
    then ``zone``'s. Measured from inside ``zone`` after each step's switch:

    * ``outpost-down``: the Region answers (the model's tier 1, ahead of the other Outposts);
    * ``outpost-and-region-down``: with outpostIntraVpc the other Outpost answers (tier 2,
      over the local gateways); without it nothing can, and nothing is sent to it;
    * ``region-back``: the Region answers again (tier 1 wins over the Outposts);
    * ``outpost-back``: the zone's own pod answers.

    Every step counts the packets toward zones the model gives no link (dropped at the
    router) and toward the other Outposts (forwarded over the local gateways, or dropped
    when outpostIntraVpc is off). A step waits on state -- the controller's EndpointSlice
    names the expected tier, and (when something can answer) a request is answered from
    the expected zones -- before its window starts.
    """
    t = st.topology
    ns = _namespace(t, zone)
    url = f"http://{st.cluster_ip(ns)}:{PORT}/"
    region = {z.name for z in t.region_zones}
    others = {z.name for z in t.edge_zones if z.name != zone and z.kind is ZoneType.OUTPOST}
    local = st.pods(ns)
    region_pods = st.pods(_namespace_region())
    p = st.dp.probe(zone, url, timeout=TIMEOUT)
    out: list[Measured] = []

    def step(name: str, source: str, ips: set[str], answered_by: set[str] | None, change: Any) -> None:
        t0 = time.time()
        change()

        def settled() -> bool:
            """The controller's EndpointSlice holds exactly ``ips`` from tier ``source``,
            the zone's kube-proxy has programmed exactly those, and (if any can answer)
            one has answered since the change."""
            if st.slice_source(ns) != source or st.slice_ips(ns) != ips:
                return False
            if st.dp.proxy_endpoints(zone, ns, SERVICE) != ips:
                return False
            return answered_by is None or any(r[0] > t0 and r[1] and r[2] in answered_by for r in list(p.results))

        try:
            st.dp.wait_for(f"{name}: endpoints from {source}", settled, timeout=30)
        except TimeoutError as exc:
            raise TimeoutError(f"{exc}: {st.diagnose(ns)}; kube-proxy has "
                               f"{st.dp.proxy_endpoints(zone, ns, SERVICE)}; last answers {p.results[-3:]}") from None
        switch = next((r[0] for r in list(p.results) if r[0] > t0 and r[1] and answered_by and r[2] in answered_by),
                      None)
        t1 = time.time()
        sib, op = st.sibling_packets(zone), st.outpost_packets(zone)
        time.sleep(seconds)
        m = _tally(name, zone, p.window(t1, time.time()))
        m.sibling_packets = st.sibling_packets(zone) - sib
        m.outpost_packets = st.outpost_packets(zone) - op
        m.switch_s = None if switch is None else switch - t0
        out.append(m)

    die, live = st.die, st.live
    def ips(pods: list[dict[str, Any]]) -> set[str]:
        return {str(pod["status"]["podIP"]) for pod in pods}

    other_pods = [pod for z in sorted(others) for pod in st.pods(_namespace(t, z))]
    before = st.sibling_packets(zone), st.outpost_packets(zone)
    step("outpost-down", "region", ips(region_pods), region, lambda: die(local))
    intra = t.outpost_intra_vpc
    step("outpost-and-region-down", "outpost" if intra else "none", ips(other_pods) if intra else set(),
         others if intra else None, lambda: die(region_pods))
    step("region-back", "region", ips(region_pods), region, lambda: live(region_pods))
    step("outpost-back", "zone", ips(local), {zone}, lambda: live(local))
    p.stop.set()
    whole = _tally("outpost-whole-run", zone, p.results)
    whole.sibling_packets = st.sibling_packets(zone) - before[0]
    whole.outpost_packets = st.outpost_packets(zone) - before[1]
    out.append(whole)
    return out


def outpost_predictions(intra_vpc: bool, zone: str = "outpost-1", requests: int = 2000) -> dict[str, float]:
    """``edgewise simulate``'s success rate for ``zone``'s users (kubernetes backend, the
    controller): its copy down, then its copy and every Region copy down."""
    from ..simulate import simulate

    s, topology = spec(outposts_spec(intra_vpc))
    both = [f"{zone}/{SERVICE}", *(f"{z.name}/{SERVICE}" for z in topology.region_zones)]
    res = simulate(s, topology, requests=requests, strategies=["edgewise"],
                   scenarios=[f"copy-down:{zone}/{SERVICE}"], fail=both)
    strat = res.strategy("edgewise")
    return {"outpost-down": strat.scenario(f"copy-down:{zone}/{SERVICE}").per_zone[zone].success_rate,
            "outpost-and-region-down": strat.scenario("fail:" + "+".join(both)).per_zone[zone].success_rate}
