"""The Istio backend proven on istiod and Envoy (see tests/istio_lab.py for the lab).

The plan's own objects (per-zone Service over the zone's pods plus Region standby pods,
DestinationRule with ``failoverPriority`` and ``outlierDetection``) are applied to a real
API server; istiod turns them into xDS, and Envoy sidecars in each zone's network namespace
are asked what they hold (``/config_dump``, ``/clusters``) and then carry real requests
while the zone's copy dies and comes back. Figures go to docs/istio-lab.md.
"""

from __future__ import annotations

import copy
import json
import os
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

import istio_lab as il
from edgewise.check import check_objects
from edgewise.k8s.inventory import Source
from edgewise.plan.apps import AppPlan, objects, plan_application
from edgewise.plan.apps.install import ISTIO_VERSION
from edgewise.spec import load_spec
from edgewise.topology import Topology, build_topology

pytestmark = pytest.mark.xdist_group("istio-lab")

SPEC = Path(__file__).resolve().parent / "data" / "istio" / "spec"
CALLER, CALLEE = "web", "api"
#: figures for docs/istio-lab.md, written when EDGEWISE_ISTIO_FIGURES names a file
FIGURES: dict[str, Any] = {}


def plan() -> tuple[Topology, AppPlan]:
    spec = load_spec(SPEC)
    topology = build_topology(spec)
    return topology, plan_application(topology, spec.applications[0][0])


def sidecar_egress(namespace: str, port: int) -> dict[str, Any]:
    """No iptables here: the app reaches its sidecar on 127.0.0.1 (captureMode NONE), as
    Istio documents for sidecars without traffic capture."""
    return {
        "apiVersion": "networking.istio.io/v1",
        "kind": "Sidecar",
        "metadata": {"name": "default", "namespace": namespace},
        "spec": {"egress": [{
            "port": {"number": port, "protocol": "HTTP", "name": f"http-{port}"},
            "bind": "127.0.0.1", "captureMode": "NONE", "hosts": ["./*"],
        }]},
    }


MESH_WIDE_PLAINTEXT = {
    # plain Envoy has no pilot-agent to fetch workload certificates: no mTLS in the lab
    "apiVersion": "security.istio.io/v1",
    "kind": "PeerAuthentication",
    "metadata": {"name": "default", "namespace": "istio-system"},
    "spec": {"mtls": {"mode": "DISABLE"}},
}


class World:
    def __init__(self, lab: il.IstioLab, topology: Topology, app_plan: AppPlan) -> None:
        self.lab = lab
        self.topology = topology
        self.plan = app_plan
        self.port = next(
            o["spec"]["ports"][0]["port"] for o in objects(app_plan)
            if o["kind"] == "Service" and o["metadata"]["name"] == CALLEE
        )
        self.sidecars: dict[str, il.Pod] = {}  # site namespace -> caller pod with Envoy

    def site_ns(self, zone: str | None) -> str:
        return self.plan.site(zone or "region").namespace

    def cluster(self, ns: str) -> str:
        return f"outbound|{self.port}||{CALLEE}.{ns}.svc.cluster.local"

    def pods(self, ns: str, name: str) -> list[il.Pod]:
        """Pods of Deployment ``name`` in ``ns``."""
        return [p for p in self.lab.pods.values()
                if p.namespace == ns and p.name.rsplit("-", 2)[0] == name]

    def admin(self, ns: str) -> Path:
        return self.lab.admin_socket(self.sidecars[ns])


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    missing = il.missing_parts()
    if missing:
        pytest.skip("Istio lab unavailable: " + "; ".join(missing))
    topology, app_plan = plan()
    t0 = time.monotonic()
    with il.istio_lab(topology) as lab:
        w = World(lab, topology, app_plan)
        objs = objects(app_plan)
        lab.apply_docs([o for o in objs if o["kind"] == "Namespace"])
        lab.apply_docs([o for o in objs if o["kind"] != "Namespace"])
        lab.apply_docs([MESH_WIDE_PLAINTEXT, *(
            sidecar_egress(s.namespace, w.port) for s in app_plan.sites)])
        replicas = sum(o["spec"]["replicas"] for o in objs if o["kind"] == "Deployment")
        lab.run_pods(replicas)
        lab.start_istiod()
        FIGURES["lab_start_s"] = round(time.monotonic() - t0, 1)
        for s in app_plan.sites:
            caller = w.pods(s.namespace, CALLER)[0]
            w.sidecars[s.namespace] = caller
            lab.start_sidecar(caller)
        yield w
        out = os.environ.get("EDGEWISE_ISTIO_FIGURES")
        if out:
            Path(out).write_text(json.dumps(FIGURES, indent=1, sort_keys=True) + "\n")


def eds(w: World, ns: str, want_hosts: int) -> list[il.EnvoyEndpoint]:
    """The sidecar's endpoints for the callee once istiod has sent all ``want_hosts``."""
    return il.wait_for(
        f"{want_hosts} endpoints of {CALLEE} in the sidecar of {ns}",
        lambda: (e := il.eds_endpoints(w.admin(ns), w.cluster(ns))) and len(e) >= want_hosts and e,
        timeout=60, every=0.2,
    )


def edge_zone_of(w: World, ip: str) -> str | None:
    """The edge zone whose node runs the pod with ``ip`` (None: a Region AZ)."""
    zone = next(p.zone for p in w.lab.pods.values() if p.ip == ip)
    return zone if zone in w.lab.edge_zones else None


def settle(w: World, ns: str, want: dict[str, int]) -> None:
    """Wait until the sidecar of ``ns`` is ready for traffic by Envoy's own state (LIVE,
    listener and cluster active, exactly ``want``'s endpoints at their priorities, all
    healthy) and istiod has every push to it acknowledged."""
    sidecar = w.sidecars[ns]
    il.wait_for(f"the sidecar of {ns} to settle on {want}",
                lambda: il.envoy_settled(w.admin(ns), w.cluster(ns), w.port, want)
                and il.istiod_acked(w.lab, f"{sidecar.name}.{sidecar.namespace}"),
                timeout=60, every=0.2)


def test_every_edge_sidecar_holds_own_zone_then_region_and_no_sibling(world: World) -> None:
    w = world
    for site in w.plan.sites:
        if site.kind == "region":
            continue
        ns = site.namespace
        zone_pods = {p.ip for p in w.pods(ns, CALLEE)}
        standby = {p.ip for p in w.pods(ns, f"{CALLEE}-region")}
        assert zone_pods and standby
        assert all(p.zone == site.site for p in w.pods(ns, CALLEE))
        assert all(edge_zone_of(w, p.ip) is None for p in w.pods(ns, f"{CALLEE}-region"))
        endpoints = eds(w, ns, len(zone_pods) + len(standby))
        by_priority: dict[int, set[str]] = {}
        for e in endpoints:
            by_priority.setdefault(e.priority, set()).add(e.ip)
        # own zone first, the Region next, nothing else at any priority
        assert by_priority == {0: zone_pods, 1: standby}, (ns, by_priority)
        assert not [e for e in endpoints if edge_zone_of(w, e.ip) not in (None, site.site)]
        # Envoy's own view (/clusters) agrees: priorities and zones per host
        hosts = il.clusters_hosts(w.admin(ns), w.cluster(ns))
        seen = {h.split(":")[0]: int(v["priority"]) for h, v in hosts.items()}
        assert seen == {ip: 0 for ip in zone_pods} | {ip: 1 for ip in standby}
        for h, v in hosts.items():
            ip = h.split(":")[0]
            assert v["zone"] == next(p.zone for p in w.lab.pods.values() if p.ip == ip)
        # the cluster carries the DestinationRule's outlier detection
        cds = cluster_config(w, ns)
        assert cds["outlier_detection"]["consecutive_5xx"] == 3
        assert cds["outlier_detection"]["max_ejection_percent"] == 100


def test_region_sidecar_holds_region_pods_only(world: World) -> None:
    w = world
    ns = w.site_ns(None)
    region = {p.ip for p in w.pods(ns, CALLEE)}
    endpoints = eds(w, ns, len(region))
    assert {e.ip for e in endpoints} == region
    assert all(edge_zone_of(w, e.ip) is None for e in endpoints)


def cluster_config(w: World, ns: str) -> dict[str, Any]:
    status, body = il.admin_get(w.admin(ns), "/config_dump?resource=dynamic_active_clusters")
    assert status == 200
    for c in json.loads(body)["configs"]:
        if c["cluster"]["name"] == w.cluster(ns):
            return dict(c["cluster"])
    raise AssertionError(f"no cluster {w.cluster(ns)} in the sidecar of {ns}")


def served_by(rows: list[dict[str, Any]], after: float = 0.0, before: float = float("inf")) -> Counter[str]:
    return Counter(r.get("pod") or f"status-{r['status']}" for r in rows if after <= r["t"] < before)


def test_failover_to_region_and_back_on_sockets(world: World) -> None:
    w = world
    site = next(s for s in w.plan.sites if s.kind != "region")
    ns = site.namespace
    zone_pod = w.pods(ns, CALLEE)[0]
    standby = {p.name for p in w.pods(ns, f"{CALLEE}-region")}
    host = f"{CALLEE}.{ns}.svc.cluster.local"
    want = {zone_pod.ip: 0} | {p.ip: 1 for p in w.pods(ns, f"{CALLEE}-region")}
    settle(w, ns, want)
    sibling_before = w.lab.sibling_packets(site.site)

    load = w.lab.load(w.sidecars[ns], host, w.port, seconds=48.0)
    time.sleep(3.0)
    t_kill = time.monotonic()
    w.lab.kill(zone_pod)
    time.sleep(5.0)
    t_back = time.monotonic()
    w.lab.serve(zone_pod)
    rows = w.lab.results(load)

    before = served_by(rows, before=t_kill)
    healthy_errors = [r for r in rows if r["t"] < t_kill and r["status"] != 200]
    # healthy, on a settled sidecar: every request is served by the zone's own copy
    assert not healthy_errors, healthy_errors
    assert set(before) == {zone_pod.name}, before
    after_kill = [r for r in rows if t_kill <= r["t"] < t_back]
    failed = [r for r in after_kill if r["status"] != 200]
    first_region = next(r for r in after_kill if r.get("pod") in standby)
    # after the ejection every request is served by the Region standby
    settled = [r for r in after_kill if r["t"] > first_region["t"]]
    assert settled and all(r.get("pod") in standby for r in settled), served_by(settled)
    returned = next((r for r in rows if r["t"] > t_back and r.get("pod") == zone_pod.name), None)
    assert returned is not None, served_by(rows, after=t_back)
    tail = [r for r in rows if r["t"] > returned["t"]]
    assert tail and all(r.get("pod") == zone_pod.name for r in tail), served_by(tail)
    # no packet left this zone toward a sibling edge zone (the router's counters) and no
    # answer came from one
    assert w.lab.sibling_packets(site.site) == sibling_before
    assert not {r.get("zone") for r in rows} & (set(w.lab.edge_zones) - {site.site})
    ejections = il.envoy_stat(w.admin(ns), w.cluster(ns), "outlier_detection.ejections_enforced_total")
    assert ejections >= 1

    FIGURES["failover"] = {
        "requests": len(rows),
        "interval_ms": 20,
        "failed_requests_after_kill": len(failed),
        "failed_after_kill": dict(Counter(str(r.get("body") or r.get("error")) for r in failed)),
        "time_to_region_ms": round((first_region["t"] - t_kill) * 1000, 1),
        "time_to_return_ms": round((returned["t"] - t_back) * 1000, 1),
        "served_after_kill": dict(served_by(after_kill)),
        "sibling_packets": w.lab.sibling_packets(site.site) - sibling_before,
        "ejections_enforced": ejections,
        "healthy_phase_requests": len([r for r in rows if r["t"] < t_kill]),
        "healthy_phase_errors": len(healthy_errors),
    }


def test_hazard_without_outlier_detection_no_failover(world: World) -> None:
    """EW506 on the real parts: the same DestinationRule without outlierDetection. istiod
    then puts every endpoint at priority 0, so the zone's copy is not preferred, and a
    zone copy that fails (HTTP 500) keeps receiving its share of requests."""
    w = world
    site = [s for s in w.plan.sites if s.kind != "region"][-1]
    ns = site.namespace
    dr = next(copy.deepcopy(o) for o in objects(w.plan)
              if o["kind"] == "DestinationRule" and o["metadata"]["namespace"] == ns
              and o["metadata"]["name"] == CALLEE)
    del dr["spec"]["trafficPolicy"]["outlierDetection"]
    report = check_objects([(dr, Source("<lab>/dr.yaml", 1, 0))], w.topology)
    assert "EW506" in {f.rule for f in report.findings}
    zone_pod = w.pods(ns, CALLEE)[0]
    standby = {p.ip for p in w.pods(ns, f"{CALLEE}-region")}
    w.lab.apply_docs([dr])
    # istiod drops the priorities: every endpoint at 0, the zone's copy not even preferred
    settle(w, ns, {ip: 0 for ip in {zone_pod.ip} | standby})
    assert "outlier_detection" not in cluster_config(w, ns)

    w.lab.serve(zone_pod, status=500)  # the zone's copy is broken
    host = f"{CALLEE}.{ns}.svc.cluster.local"
    rows = w.lab.results(w.lab.load(w.sidecars[ns], host, w.port, seconds=4.0))
    failed = [r for r in rows if r["status"] == 500]
    late = [r for r in rows if r["t"] > rows[0]["t"] + 2.0]
    # a third of all requests still go to the broken copy, to the end: no failover
    assert len(failed) > len(rows) // 5, served_by(rows)
    assert any(r["status"] == 500 for r in late)
    FIGURES["without_outlier_detection"] = {
        "requests": len(rows), "failed": len(failed),
        "failed_in_last_2s": sum(r["status"] == 500 for r in late),
        "served": dict(served_by(rows)),
    }

    # the plan's rule back: the broken copy is ejected after three 5xx and the rest go to the Region
    w.lab.apply_docs([next(o for o in objects(w.plan) if o["kind"] == "DestinationRule"
                           and o["metadata"]["namespace"] == ns and o["metadata"]["name"] == CALLEE)])
    il.wait_for("priorities back", lambda: {
        e.priority for e in il.eds_endpoints(w.admin(ns), w.cluster(ns))} == {0, 1}, timeout=60)
    rows = w.lab.results(w.lab.load(w.sidecars[ns], host, w.port, seconds=3.0))
    failed_with = [r for r in rows if r["status"] != 200]
    assert len(failed_with) <= 3, served_by(rows)
    FIGURES["with_outlier_detection_500s"] = {"requests": len(rows), "failed": len(failed_with)}
    w.lab.serve(zone_pod)


def plan_object(w: World, kind: str, ns: str, name: str) -> dict[str, Any]:
    return next(copy.deepcopy(o) for o in objects(w.plan)
                if o["kind"] == kind and o["metadata"]["namespace"] == ns and o["metadata"]["name"] == name)


def test_hazard_max_ejection_below_100_leaves_the_failed_zone_in_the_pool(world: World) -> None:
    """EW507 on the real parts: a zone runs two copies of ``api`` and both fail (HTTP 500).
    With ``maxEjectionPercent`` left at Istio's default (10 %), Envoy ejects nothing: one
    ejection would take 25 % of the cluster's four hosts, over the limit, and since Envoy
    1.31 the old "always eject one host" exception is off unless ``always_eject_one_host``
    is set. The zone's priority stays fully healthy, so every request keeps going to the
    broken copies. With the plan's 100 both are ejected and the Region serves."""
    w = world
    site = [s for s in w.plan.sites if s.kind != "region"][1]
    ns = site.namespace
    deployment = plan_object(w, "Deployment", ns, CALLEE)
    deployment["spec"]["replicas"] = 2
    running = len(w.lab.pods)
    w.lab.apply_docs([deployment])
    w.lab.run_pods(running + 1)
    zone_pods = w.pods(ns, CALLEE)
    standby = w.pods(ns, f"{CALLEE}-region")
    assert len(zone_pods) == 2 and {p.zone for p in zone_pods} == {site.site}
    want = {p.ip: 0 for p in zone_pods} | {p.ip: 1 for p in standby}
    host = f"{CALLEE}.{ns}.svc.cluster.local"

    dr = plan_object(w, "DestinationRule", ns, CALLEE)
    assert dr["spec"]["trafficPolicy"]["outlierDetection"].pop("maxEjectionPercent") == 100
    # edgewise check flags exactly this object
    report = check_objects([(dr, Source("<lab>/dr.yaml", 1, 0))], w.topology)
    flagged = [f for f in report.findings if f.rule == "EW507"]
    assert [f.object for f in flagged] == [f"DestinationRule {ns}/{CALLEE}"], report.findings
    w.lab.apply_docs([dr])
    il.wait_for("the cluster without max_ejection_percent", lambda: "max_ejection_percent" not in
                cluster_config(w, ns).get("outlier_detection", {"max_ejection_percent": 0}), timeout=60)
    settle(w, ns, want)
    for p in zone_pods:
        w.lab.serve(p, status=500)
    rows = w.lab.results(w.lab.load(w.sidecars[ns], host, w.port, seconds=4.0))
    late = [r for r in rows if r["t"] > rows[0]["t"] + 2.0]
    failed_late = [r for r in late if r["status"] == 500]
    hosts = il.clusters_hosts(w.admin(ns), w.cluster(ns))
    ejected = {h.split(":")[0] for h, v in hosts.items() if "failed_outlier_check" in v.get("health_flags", "")}
    # nothing ejected: the zone's priority looks healthy and keeps every request
    assert not ejected, hosts
    assert late and len(failed_late) == len(late), served_by(late)
    FIGURES["max_ejection_default"] = {
        "requests": len(rows), "failed": sum(r["status"] == 500 for r in rows),
        "late_requests": len(late), "late_failed": len(failed_late), "ejected_hosts": len(ejected),
        "served": dict(served_by(rows)),
    }

    # the plan's rule (maxEjectionPercent: 100), from a healthy settled start: both broken
    # copies are ejected and the Region serves
    w.lab.apply_docs([plan_object(w, "DestinationRule", ns, CALLEE)])
    for p in zone_pods:
        w.lab.serve(p)
    il.wait_for("max_ejection_percent 100", lambda: cluster_config(w, ns).get(
        "outlier_detection", {}).get("max_ejection_percent") == 100, timeout=60)
    settle(w, ns, want)
    for p in zone_pods:
        w.lab.serve(p, status=500)
    rows = w.lab.results(w.lab.load(w.sidecars[ns], host, w.port, seconds=4.0))
    failed = [r for r in rows if r["status"] != 200]
    late = [r for r in rows if r["t"] > rows[0]["t"] + 2.0]
    standby_names = {p.name for p in standby}
    hosts = il.clusters_hosts(w.admin(ns), w.cluster(ns))
    ejected = {h.split(":")[0] for h, v in hosts.items() if "failed_outlier_check" in v.get("health_flags", "")}
    # both broken copies ejected; after that the Region serves every request. The second
    # ejection reaches the worker only at the end of Envoy's update_merge_window (1 s by
    # default, not settable from a DestinationRule): until then the zone keeps 70 % of
    # the requests on the remaining broken copy, so the failures are 3 + ~1 s of traffic
    assert ejected == {p.ip for p in zone_pods}, hosts
    assert late and all(r.get("pod") in standby_names for r in late), served_by(late)
    last_failure = max(r["t"] for r in failed) - rows[0]["t"]
    FIGURES["max_ejection_100"] = {"requests": len(rows), "failed": len(failed),
                                   "last_failure_s": round(last_failure, 3)}
    for p in zone_pods:
        w.lab.serve(p)


def test_the_lab_proves_the_istio_release_the_runbook_installs() -> None:
    """The RUNBOOK's helm charts, the istiod the lab builds and its CRDs are one release."""
    gomod = (il.DATA.parents[2] / "tools" / "go" / "istio" / "go.mod").read_text()
    assert "istio.io/istio v0.0.0-" in gomod and f"-{il.ISTIOD_COMMIT[:12]}\n" in gomod
    assert ISTIO_VERSION == il.ISTIOD_RELEASE
    assert il.ISTIOD_RELEASE in (il.DATA / "README.md").read_text()


def test_istiod_and_envoy_are_the_real_parts(world: World) -> None:
    _status, body = il.admin_get(world.admin(world.site_ns(None)), "/server_info")
    info = json.loads(body)
    assert info["version"].split("/")[1].startswith("1.40"), info["version"]
    syncz = world.lab.istiod_debug("/debug/syncz")
    ids = {s.get("proxy") or s.get("id") for s in syncz}
    # istiod lists every sidecar it serves, by pod.namespace (the node id's third field)
    assert {f"{p.name}.{p.namespace}" for p in world.sidecars.values()} <= ids
    FIGURES["envoy_version"] = info["version"]
    yaml.safe_dump(FIGURES)  # figures stay plain data
