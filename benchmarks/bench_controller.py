"""Benchmark the edgewise controller: readiness change -> EndpointSlices to write.

A cluster of Z edge zones (Local Zones) plus two Region AZs runs S services; every
service has one pod per edge zone and two per AZ, and every edge zone's copy of every
service is a managed (selectorless) Service: Z x S Services, Z x S + 4 S pods. The
controller (:class:`edgewise.controller.state.Controller`) is fed the nodes, Services
and pods as watch events (plain dicts, as the API server sends them), then a stream of
readiness changes:

* an edge pod goes unready (its zone fails over to the Region) or ready again;
* a Region pod goes unready or ready (every zone in failover for that service follows).

For each event the time from handing the event to the controller to the last
EndpointSlice object it produced (built and handed to the API writer) is recorded; the
writer here stores objects in memory, so the figure is the controller's own reaction,
not the API server's write latency (see docs/failover-without-a-mesh.md for the whole
path on real parts). Reported: p50, p99, max, and ratios to the 1 s budget.

    python -m benchmarks.bench_controller [--zones 200] [--services 40] [--events 2000] [--json FILE]
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import statistics
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from benchmarks import write_json
from edgewise.controller.endpoints import ManagedService, Selection
from edgewise.controller.state import Controller

BUDGET_S = 1.0


class MemoryApi:
    def __init__(self) -> None:
        self.slices = 0
        self.last: dict[tuple[str, str], Mapping[str, Any]] = {}

    def apply(self, obj: Mapping[str, Any]) -> None:
        self.slices += 1
        self.last[(obj["metadata"]["namespace"], obj["metadata"]["name"])] = obj

    def delete(self, api_version: str, kind: str, namespace: str, name: str) -> None:
        pass

    def owned(self, app: str) -> list[tuple[str, str, str, str]]:
        return []

    def patch_status(self, name: str, status: Mapping[str, Any]) -> None:
        pass

    def event(self, service: ManagedService, selection: Selection) -> None:
        pass


def _node(name: str, zone: str, kind: str) -> dict[str, Any]:
    return {"metadata": {"name": name, "labels": {
        "topology.kubernetes.io/zone": zone, "edgewise.dev/zone": zone, "edgewise.dev/zone-type": kind}}}


def _pod(ns: str, name: str, svc: str, node: str, ip: str, ready: bool) -> dict[str, Any]:
    return {
        "metadata": {"namespace": ns, "name": name, "uid": "u-" + name,
                     "labels": {"app.kubernetes.io/part-of": "bench", "edgewise.dev/service": svc,
                                "app.kubernetes.io/name": svc}},
        "spec": {"nodeName": node},
        "status": {"podIP": ip, "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]},
    }


def _service(ns: str, svc: str, zone: str) -> dict[str, Any]:
    return {
        "metadata": {"namespace": ns, "name": svc, "annotations": {
            "edgewise.dev/endpoints": "edge-failover",
            "edgewise.dev/endpoint-selector": f"app.kubernetes.io/part-of=bench,edgewise.dev/service={svc}",
            "edgewise.dev/zone": zone}},
        "spec": {"ports": [{"name": "app", "port": 8080, "targetPort": 8080}]},
    }


def build(zones: int, services: int) -> tuple[Controller, MemoryApi, list[dict[str, Any]]]:
    api = MemoryApi()
    c = Controller(api)
    edge = [f"edge-{i:03d}" for i in range(zones)]
    region = ["az-a", "az-b"]
    for z in region:
        c.node_event("ADDED", _node("n-" + z, z, "availability-zone"))
    for z in edge:
        c.node_event("ADDED", _node("n-" + z, z, "local"))
    pods: list[dict[str, Any]] = []
    n = 0
    for s in range(services):
        svc = f"svc-{s:02d}"
        for z in [*region, *region, *edge]:
            n += 1
            ns = "bench-region" if z in region else f"bench-{z}"
            pods.append(_pod(ns, f"{svc}-{n}", svc, "n-" + z, f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}", True))
        for z in edge:
            c.service_event("ADDED", _service(f"bench-{z}", svc, z))
    for p in pods:
        c.pod_event("ADDED", p)
    return c, api, pods


def run(zones: int, services: int, events: int, seed: int) -> dict[str, Any]:
    t0 = time.perf_counter()
    c, api, pods = build(zones, services)
    setup_s = time.perf_counter() - t0
    rng = random.Random(seed)
    state = {p["metadata"]["name"]: True for p in pods}
    samples: list[float] = []
    written: list[int] = []
    gc.collect()
    for _ in range(events):
        p = rng.choice(pods)
        name = p["metadata"]["name"]
        state[name] = not state[name]
        body = _pod(p["metadata"]["namespace"], name, p["metadata"]["labels"]["edgewise.dev/service"],
                    p["spec"]["nodeName"], p["status"]["podIP"], state[name])
        before = api.slices
        t = time.perf_counter()
        c.pod_event("MODIFIED", body)
        samples.append(time.perf_counter() - t)
        written.append(api.slices - before)
    samples.sort()
    p99 = samples[int(0.99 * (len(samples) - 1))]
    return {
        "zones": zones, "services": services, "managed_services": zones * services, "pods": len(pods),
        "events": events, "setup_s": round(setup_s, 2),
        "p50_ms": round(statistics.median(samples) * 1000, 3), "p99_ms": round(p99 * 1000, 3),
        "max_ms": round(samples[-1] * 1000, 3), "p99_over_budget": round(p99 / BUDGET_S, 5),
        "slices_per_event_max": max(written), "slices_per_event_mean": round(statistics.mean(written), 2),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--zones", type=int, default=200)
    ap.add_argument("--services", type=int, default=40)
    ap.add_argument("--events", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    out = run(args.zones, args.services, args.events, args.seed)
    print(json.dumps(out, indent=1))
    write_json(out, args.json)


if __name__ == "__main__":
    main()
