"""Benchmark the edgewise controller's whole path on the lab's real API server.

A readiness change is written as the kubelet writes it (a PATCH of the pod's
``status.conditions``) to the real kube-apiserver + etcd of :class:`edgewise.lab.Lab`;
the real ``edgewise controller run`` process (kopf) sees it through its watch, selects
the endpoints and writes the EndpointSlice; an independent watch on EndpointSlices, in
this process, observes the write. The latency of one change is

    send of the pod status PATCH  ->  the watch delivers the EndpointSlice whose
                                      addresses are exactly the expected ones

(the expected addresses come from this benchmark's own bookkeeping of which pods are
Ready: the zone's pod, else the Region's Ready pods, never another edge zone's).

The cluster: Z Local Zones and two Region AZs, one kwok node each; S services; every
service has one pod per Local Zone (its zone copy) and two per AZ; every Local Zone's copy
of every service is a managed (selectorless) Service: Z x S Services, Z x S + 4 S pods.
Pods are created directly on their nodes (``spec.nodeName``: no scheduler) and kwok gives
them IPs and sets them Ready once; after that only this benchmark changes readiness (the lab's controller
manager never marks pods NotReady for a late kwok heartbeat: 202 nodes on a loaded
machine would otherwise produce readiness changes nobody asked for).

The stream of readiness changes (``--events`` events, each waited for before the next,
with a random pause of 0.05-0.3 s in between):

* ``single``: one edge pod goes unready (its zone copy fails over to the Region) or ready;
* ``zone``: every pod of a Local Zone goes unready at once (S changes, sent by
  ``--burst-workers`` concurrent writers, as fast as the API takes them), or comes back;
* ``region``: a Region pod goes unready or ready (every zone in failover for that service
  follows: one EndpointSlice write per such zone); one Region pod per service stays Ready.

Reported: per-change latency p50/p95/p99/max (all changes, and by kind), the time from a
zone burst's first PATCH to its last EndpointSlice observed, counts, the setup times and
the machine. Needs the lab's programs (``make lab``).

    python -m benchmarks.bench_controller_lab [--zones 200] [--services 40] [--events 200] [--json FILE]
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks import write_json
from edgewise.lab import Lab
from edgewise.lab.client import Client
from edgewise.lab.control_plane import running_lab
from edgewise.plan.cluster.controller import controller_objects
from edgewise.plan.endpoints import MANAGED_BY

BUDGET_S = 1.0
REGION_NS = "bench-region"
PART_OF = "bench"
PORT = 8080
AZS = ("us-east-1a", "us-east-1b")


def _edge_zone(i: int) -> str:
    return f"us-east-1-e{i:03d}-1a"


def _ns(zone: str) -> str:
    return REGION_NS if zone in AZS else f"bench-{zone.removeprefix('us-east-1-')}"


@dataclass
class PodRef:
    namespace: str
    name: str
    service: str
    zone: str
    ip: str = ""
    ready: bool = True


@dataclass
class Cluster:
    zones: list[str]
    services: list[str]
    pods: dict[tuple[str, str], PodRef] = field(default_factory=dict)  # (zone, service) -> edge pod
    region: dict[str, list[PodRef]] = field(default_factory=dict)  # service -> Region pods

    def expected(self, zone: str, service: str) -> frozenset[str]:
        own = self.pods[(zone, service)]
        if own.ready:
            return frozenset({own.ip})
        return frozenset(p.ip for p in self.region[service] if p.ready)

    def failing_over(self, service: str) -> list[str]:
        return [z for z in self.zones if not self.pods[(z, service)].ready]


def _pool(n: int, fn: Callable[[Any], Any], items: Iterable[Any]) -> list[Any]:
    with ThreadPoolExecutor(n) as ex:
        return list(ex.map(fn, items))


def _setup_cluster(lab: Lab, zones: int, services: int, say: Callable[[str], None]) -> Cluster:
    from edgewise.lab.failover import spec

    c = Cluster([_edge_zone(i) for i in range(zones)], [f"svc-{s:02d}" for s in range(services)])
    _, topology = spec()
    lab.apply([o for o in controller_objects(topology) if o["kind"] == "CustomResourceDefinition"])
    client = lab.client
    t = time.monotonic()
    for z in [*AZS, *c.zones]:
        kind = "availability-zone" if z in AZS else "local"
        lab.add_node(f"node-{z}", wait=False, capacity={"pods": "250"}, labels={
            "kubernetes.io/hostname": f"node-{z}", "topology.kubernetes.io/zone": z,
            "topology.kubernetes.io/region": "us-east-1", "edgewise.dev/zone": z, "edgewise.dev/zone-type": kind})
    lab.wait_nodes_ready([f"node-{z}" for z in [*AZS, *c.zones]], timeout=300)
    say(f"{len(c.zones) + 2} nodes Ready in {time.monotonic() - t:.1f} s")
    namespaces = {REGION_NS, *(_ns(z) for z in c.zones)}
    lab.ensure_namespaces(namespaces)

    def accounts() -> bool:  # pods are admitted once the namespace's default ServiceAccount exists
        have = {a["metadata"]["namespace"] for a in client.list("v1", "ServiceAccount", "")
                if a["metadata"]["name"] == "default"}
        return namespaces <= have

    client.wait("the namespaces' default ServiceAccounts", accounts, timeout=300, interval=1)
    refs: list[PodRef] = []
    for s in c.services:
        c.region[s] = [PodRef(REGION_NS, f"{s}-{az}", s, az) for az in AZS]
        refs += c.region[s]
        for z in c.zones:
            c.pods[(z, s)] = PodRef(_ns(z), s, s, z)
            refs.append(c.pods[(z, s)])

    def make_pod(p: PodRef) -> None:
        client.create({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"namespace": p.namespace, "name": p.name, "labels": {
                "app.kubernetes.io/part-of": PART_OF, "edgewise.dev/service": p.service,
                "app.kubernetes.io/name": p.service}},
            "spec": {"nodeName": f"node-{p.zone}", "automountServiceAccountToken": False,
                     "containers": [{"name": "app", "image": "bench:1", "ports": [{"containerPort": PORT}]}]},
        })

    t = time.monotonic()
    _pool(8, make_pod, refs)
    say(f"{len(refs)} pods created in {time.monotonic() - t:.1f} s")
    by_key = {(p.namespace, p.name): p for p in refs}

    def all_ready() -> bool:
        n = 0
        for o in client.list("v1", "Pod", "", label_selector=f"app.kubernetes.io/part-of={PART_OF}"):
            st = o.get("status") or {}
            ready = any(x.get("type") == "Ready" and x.get("status") == "True" for x in st.get("conditions") or ())
            ref = by_key.get((o["metadata"]["namespace"], o["metadata"]["name"]))
            if ref is not None and ready and st.get("podIP"):
                ref.ip = st["podIP"]
                n += 1
        say(f"  {n}/{len(refs)} pods Ready with an IP")
        return n == len(refs)

    client.wait("every pod Ready with an IP (kwok)", all_ready, timeout=1800, interval=5)
    say(f"all pods Ready in {time.monotonic() - t:.1f} s")
    ips = [p.ip for p in refs]
    if len(set(ips)) != len(ips):
        raise RuntimeError("kwok gave two pods the same IP; the expected endpoints would be ambiguous")

    def make_service(key: tuple[str, str]) -> None:
        z, s = key
        client.create({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"namespace": _ns(z), "name": s, "annotations": {
                "edgewise.dev/endpoints": "edge-failover",
                "edgewise.dev/endpoint-selector": f"app.kubernetes.io/part-of={PART_OF},edgewise.dev/service={s}",
                "edgewise.dev/zone": z}},
            "spec": {"ports": [{"name": "app", "port": PORT, "targetPort": PORT}]},
        })

    t = time.monotonic()
    _pool(8, make_service, list(c.pods))
    say(f"{len(c.pods)} Services created in {time.monotonic() - t:.1f} s")
    return c


class SliceWatch:
    """An independent watch on the controller's EndpointSlices: the ready addresses of
    each slice as last delivered, and callbacks for expectations."""

    def __init__(self, lab: Lab) -> None:
        u = urllib.parse.urlsplit(lab.server)
        self._host, self._port, self._token = u.hostname or "127.0.0.1", u.port or 443, lab.token
        self.lab = lab
        self.seen: dict[tuple[str, str], frozenset[str]] = {}
        self.lock = threading.Lock()
        self.pending: dict[tuple[str, str], tuple[frozenset[str], float, str]] = {}
        self.latencies: list[tuple[str, float]] = []  # (kind, seconds)
        self.finished: list[float] = []  # monotonic arrival time of each measured change
        self.done = threading.Condition(self.lock)
        self.events = 0
        self._stop = threading.Event()

    def start(self) -> None:
        import ssl

        sel = urllib.parse.quote(f"endpointslice.kubernetes.io/managed-by={MANAGED_BY}")
        listed = self.lab.client.request("GET", f"/apis/discovery.k8s.io/v1/endpointslices?labelSelector={sel}")
        for o in listed.get("items") or []:
            self._record(o)
        rv = listed["metadata"]["resourceVersion"]
        conn = http.client.HTTPSConnection(self._host, self._port, context=ssl._create_unverified_context())
        conn.request("GET", f"/apis/discovery.k8s.io/v1/endpointslices?watch=1&labelSelector={sel}"
                            f"&resourceVersion={rv}&timeoutSeconds=86400",
                     headers={"Authorization": f"Bearer {self._token}"})
        resp = conn.getresponse()
        if resp.status != 200:
            raise RuntimeError(f"watch on EndpointSlices: HTTP {resp.status} {resp.read()[:300]!r}")

        def loop() -> None:
            while not self._stop.is_set():
                line = resp.readline()
                if not line:
                    if not self._stop.is_set():
                        print("EndpointSlice watch ended", file=sys.stderr)
                    return
                ev = json.loads(line)
                if ev.get("type") in ("ADDED", "MODIFIED"):
                    self._record(ev["object"])

        threading.Thread(target=loop, daemon=True, name="slice-watch").start()

    def _record(self, o: dict[str, Any]) -> None:
        now = time.monotonic()
        meta = o["metadata"]
        key = (meta["namespace"], meta["labels"].get("kubernetes.io/service-name", meta["name"]))
        addrs = frozenset(a for e in o.get("endpoints") or () if (e.get("conditions") or {}).get("ready")
                          for a in e.get("addresses") or ())
        with self.lock:
            self.events += 1
            self.seen[key] = addrs
            want = self.pending.get(key)
            if want is not None and want[0] == addrs:
                del self.pending[key]
                self.latencies.append((want[2], now - want[1]))
                self.finished.append(now)
                self.done.notify_all()

    def expect(self, key: tuple[str, str], addrs: frozenset[str], t0: float, kind: str) -> None:
        with self.lock:
            if self.seen.get(key) == addrs:  # nothing to change: nothing to measure
                return
            self.pending[key] = (addrs, t0, kind)

    def wait_all(self, timeout: float) -> list[tuple[str, str]]:
        """Wait until nothing is pending; returns what is still pending at the timeout."""
        end = time.monotonic() + timeout
        with self.lock:
            while self.pending and time.monotonic() < end:
                self.done.wait(max(0.0, end - time.monotonic()))
            late = list(self.pending)
            self.pending.clear()
            return late

    def stop(self) -> None:
        """Stop recording (the connection ends with the lab: closing an SSL socket
        another thread is reading from can block)."""
        self._stop.set()


@contextlib.contextmanager
def _controller(lab: Lab, log: Path, extra_env: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    from edgewise.lab.dataplane import die_with_parent

    env = {**os.environ, "KUBECONFIG": str(lab.kubeconfig), **extra_env}
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "edgewise", "controller", "run", "--lease", ""],
                                env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                                preexec_fn=die_with_parent)
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _pctl(xs: list[float], q: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, int(q * len(s)))] if s else float("nan")


def _summary(xs: list[float]) -> dict[str, Any]:
    if not xs:
        return {"count": 0}
    return {"count": len(xs), "p50_ms": round(statistics.median(xs) * 1000, 1),
            "p95_ms": round(_pctl(xs, 0.95) * 1000, 1), "p99_ms": round(_pctl(xs, 0.99) * 1000, 1),
            "max_ms": round(max(xs) * 1000, 1)}


def _rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return float("nan")


def run(zones: int, services: int, events: int, seed: int, burst_workers: int,
        say: Callable[[str], None]) -> dict[str, Any]:
    rng = random.Random(seed)
    t_all = time.monotonic()
    with running_lab() as lab, tempfile.TemporaryDirectory(prefix="edgewise-bench-") as tmp:
        c = _setup_cluster(lab, zones, services, say)
        setup_s = time.monotonic() - t_all
        watch = SliceWatch(lab)
        watch.start()
        t = time.monotonic()
        with _controller(lab, Path(tmp) / "controller.log", {}) as proc:
            # initial sync: every zone Service lists its own pod
            def synced() -> bool:
                if proc.poll() is not None:
                    raise RuntimeError((Path(tmp) / "controller.log").read_text()[-3000:])
                with watch.lock:
                    ok = sum(1 for (z, s) in c.pods if watch.seen.get((_ns(z), s)) == c.expected(z, s))
                say(f"  initial sync: {ok}/{len(c.pods)} EndpointSlices")
                return ok == len(c.pods)

            lab.client.wait("the controller's initial EndpointSlices", synced, timeout=1800, interval=5)
            sync_s = time.monotonic() - t
            say(f"controller synced {len(c.pods)} Services in {sync_s:.1f} s")
            time.sleep(2.0)
            local = threading.local()

            def patch(p: PodRef, ready: bool, kind: str, affected: list[tuple[str, str]]) -> None:
                """The kubelet's status write; the expectations are registered with the
                instant the PATCH is sent."""
                if not hasattr(local, "client"):
                    local.client = Client(lab.server, lab.token)
                v = "True" if ready else "False"
                body = {"status": {"conditions": [
                    {"type": "Initialized", "status": "True"}, {"type": "PodScheduled", "status": "True"},
                    {"type": "Ready", "status": v}, {"type": "ContainersReady", "status": v}]}}
                t0 = time.monotonic()
                for z, s in affected:
                    watch.expect((_ns(z), s), c.expected(z, s), t0, kind)
                local.client.patch_status({"apiVersion": "v1", "kind": "Pod",
                                           "metadata": {"namespace": p.namespace, "name": p.name}}, body)

            bursts: list[float] = []
            late: list[tuple[str, str]] = []
            counts = {"single": 0, "zone": 0, "region": 0}
            zones_down: set[str] = set()
            ex = ThreadPoolExecutor(burst_workers)
            for i in range(events):
                r = rng.random()
                if r < 0.5:
                    kind = "single"
                    z, s = rng.choice(c.zones), rng.choice(c.services)
                    p = c.pods[(z, s)]
                    p.ready = not p.ready
                    patch(p, p.ready, kind, [(z, s)])
                    counts[kind] += 1
                    todo = []
                elif r < 0.7:
                    kind = "zone"
                    if zones_down and (len(zones_down) >= 3 or rng.random() < 0.5):
                        z, ready = rng.choice(sorted(zones_down)), True
                        zones_down.discard(z)
                    else:
                        z, ready = rng.choice([x for x in c.zones if x not in zones_down]), False
                        zones_down.add(z)
                    todo = [c.pods[(z, s)] for s in c.services if c.pods[(z, s)].ready != ready]
                    for p in todo:
                        p.ready = ready
                    t_burst = time.monotonic()
                    n_before = len(watch.latencies)
                    list(ex.map(lambda p, ready=ready: patch(p, ready, "zone", [(p.zone, p.service)]), todo))
                    counts[kind] += len(todo)
                else:
                    kind = "region"
                    s = rng.choice(c.services)
                    pods = c.region[s]
                    down = [p for p in pods if not p.ready]
                    p = down[0] if down else rng.choice(pods)
                    p.ready = not p.ready
                    affected = [(z, s) for z in c.failing_over(s)]
                    patch(p, p.ready, kind, affected)
                    counts[kind] += len(affected)
                    todo = []
                missed = watch.wait_all(60.0)
                late += missed
                if todo and not missed:
                    # the burst is done when its last EndpointSlice arrived (latencies are
                    # from each PATCH's own send time, so add back its offset)
                    with watch.lock:
                        bursts.append(max(watch.finished[n_before:]) - t_burst)
                if missed:
                    say(f"event {i} ({kind}): {len(missed)} EndpointSlices not as expected after 60 s: {missed[:3]}")
                if i % 20 == 0:
                    say(f"  event {i}/{events}: {len(watch.latencies)} changes measured")
                time.sleep(rng.uniform(0.05, 0.3))
            ex.shutdown()
            rss = _rss_mb(proc.pid)
            controller_log = (Path(tmp) / "controller.log").read_text(errors="replace")
        watch.stop()
        lat = watch.latencies
        out = {
            "zones": zones, "services": services, "managed_services": len(c.pods),
            "pods": len(c.pods) + sum(len(v) for v in c.region.values()), "events": events, "changes": counts,
            "setup_s": round(setup_s, 1), "initial_sync_s": round(sync_s, 1),
            "all": _summary([x for _, x in lat]),
            "by_kind": {k: _summary([x for kk, x in lat if kk == k]) for k in ("single", "zone", "region")},
            "zone_burst_completion": _summary(bursts),
            "not_observed": len(late),
            "p99_over_budget": round(_pctl([x for _, x in lat], 0.99) / BUDGET_S, 3) if lat else None,
            "controller_rss_mb": rss,
            "controller_warnings": sum(1 for ln in controller_log.splitlines() if " WARNING " in ln),
            "machine": {"cpus": os.cpu_count(), "load_avg_1m": round(os.getloadavg()[0], 1),
                        "python": platform.python_version()},
        }
        return out


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--zones", type=int, default=200)
    ap.add_argument("--services", type=int, default=40)
    ap.add_argument("--events", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--burst-workers", type=int, default=4)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()

    def say(msg: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)

    out = run(args.zones, args.services, args.events, args.seed, args.burst_workers, say)
    print(json.dumps(out, indent=1))
    write_json(out, args.json)


if __name__ == "__main__":
    main()
