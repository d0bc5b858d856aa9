"""What the Istio backend's failover costs on a real control plane (issue: cost check).

Plans the benchmark application (benchmarks/generate.py) at ZONES x SERVICES with routing
``istio``, applies it to the Istio lab (tests/istio_lab.py: the lab's kube-apiserver,
scheduler, controller-manager and kwok with the topology's nodes, istiod) and measures:

* objects and pods by role (edge copies, Region copies), the Region pods' CPU and memory
  requests, and the Region nodes' capacity;
* pods the scheduler could not place, with its reason;
* istiod: resident memory, CPU seconds, pushes and the bytes it pushed per xDS type
  (its own ``pilot_xds_config_size_bytes`` and ``pilot_xds_pushes`` metrics);
* one edge sidecar: clusters, endpoints and bytes of its config dump, Envoy's memory, and
  the priorities of its failover host (own zone 0, Region 1, nothing else).

The plan is measured as the ``istio`` backend writes it (docs/istio-lab.md, "The layout"):
one namespace, per zone ``<service>-<zone>`` over the zone's pods and the one Region copy.

    python -m benchmarks.istio_cost --zones 50 --services 20 --json bench-out/istio-cost.json

Needs root (network namespaces) and the lab's programs (make lab, tools/istio-build.sh).
Figures are machine-dependent; docs/istio-lab.md keeps one run.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

from edgewise.plan.apps import objects, plan_application
from edgewise.spec import load_spec
from edgewise.topology import build_topology

from .generate import spec_documents

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
import istio_lab as il


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def cpu_m(q: str) -> int:
    return int(q[:-1]) if q.endswith("m") else int(float(q) * 1000)


def mem_mi(q: str) -> float:
    units = {"Ki": 1 / 1024, "Mi": 1, "Gi": 1024}
    return float(q[:-2]) * units[q[-2:]] if q[-2:] in units else float(q) / 2**20


def roles(objs: list[dict[str, Any]]) -> tuple[Counter[str], dict[str, float]]:
    """Pods by copy (edge / region) and the Region pods' CPU (cores) and memory (GiB) requests."""
    pods: Counter[str] = Counter()
    region = {"cpu": 0.0, "memory_gib": 0.0}
    for o in objs:
        if o["kind"] not in ("Deployment", "StatefulSet"):
            continue
        role = o["spec"]["template"]["metadata"]["labels"].get("edgewise.dev/copy", "edge")
        n = int(o["spec"]["replicas"])
        pods[role] += n
        if role == "region":
            for c in o["spec"]["template"]["spec"]["containers"]:
                req = c.get("resources", {}).get("requests", {})
                region["cpu"] += n * cpu_m(str(req.get("cpu", "0m"))) / 1000
                region["memory_gib"] += n * mem_mi(str(req.get("memory", "0Mi"))) / 1024
    return pods, {k: round(v, 1) for k, v in region.items()}


def metrics(port: int) -> dict[str, float]:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30).read().decode()
    out: dict[str, float] = {}
    for line in text.splitlines():
        m = re.match(r"(pilot_xds_config_size_bytes_(?:sum|count)|pilot_xds_pushes)\{([^}]*)\} (\S+)", line)
        if m:
            t = re.search(r'type="([^"]+)"', m.group(2))
            key = f"{m.group(1)}[{t.group(1) if t else ''}]"
            out[key] = out.get(key, 0.0) + float(m.group(3))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--zones", type=int, default=50)
    ap.add_argument("--services", type=int, default=20)
    ap.add_argument("--settle", type=float, default=60.0,
                    help="seconds with no newly running pod after which scheduling counts as done")
    ap.add_argument("--region-instance-type", metavar="TYPE",
                    help="the Region node groups' instance type (default: the benchmark topology's m6i.large)")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    missing = il.missing_parts()
    if missing:
        sys.exit("istio lab unavailable: " + "; ".join(missing))

    docs = spec_documents(args.zones, args.services)
    docs[1]["spec"]["routing"] = "istio"
    if args.region_instance_type:
        for z in docs[0]["spec"]["zones"]:
            if "type" not in z:  # the Region AZs
                z["nodeGroup"]["instanceType"] = args.region_instance_type
    with tempfile.TemporaryDirectory(prefix="ewi-cost-") as tmp:
        (Path(tmp) / "spec.yaml").write_text(yaml.safe_dump_all(docs, sort_keys=False))
        spec = load_spec(Path(tmp) / "spec.yaml")
    topology = build_topology(spec)
    plan = plan_application(topology, spec.applications[0][0])
    objs = objects(plan)
    kinds = Counter(o["kind"] for o in objs)
    pods, region_requests = roles(objs)
    result: dict[str, Any] = {
        "zones": args.zones, "services": args.services,
        "region_instance_type": args.region_instance_type or "m6i.large",
        "objects": dict(sorted(kinds.items())), "objects_total": len(objs),
        "pods": dict(pods), "pods_total": sum(pods.values()), "region_requests": region_requests,
    }
    t0 = time.monotonic()
    with il.istio_lab(topology) as lab:
        result["lab_start_s"] = round(time.monotonic() - t0, 1)
        edge_zones = set(lab.edge_zones)
        region_nodes = [n for n in lab.kube.list("v1", "Node")
                        if lab.zone_of_node[n["metadata"]["name"]] not in edge_zones]
        result["region_nodes"] = len(region_nodes)
        result["region_pod_capacity"] = sum(int(n["status"]["capacity"]["pods"]) for n in region_nodes)
        result["region_cpu_capacity"] = sum(cpu_m(str(n["status"]["capacity"]["cpu"])) for n in region_nodes) / 1000
        t = time.monotonic()
        lab.apply_docs([o for o in objs if o["kind"] == "Namespace"])
        lab.apply_docs([o for o in objs if o["kind"] != "Namespace"])
        result["apply_s"] = round(time.monotonic() - t, 1)

        # scheduling: until every pod runs, or no new pod has run for --settle seconds
        t = time.monotonic()
        last, last_change = -1, time.monotonic()
        while True:
            items = [p for p in lab.kube.list("v1", "Pod")
                     if p["metadata"]["namespace"] not in ("kube-system", "istio-system")]
            running = sum(1 for p in items if (p.get("status") or {}).get("podIP"))
            if running != last:
                last, last_change = running, time.monotonic()
            if running >= result["pods_total"] or time.monotonic() - last_change > args.settle:
                break
            time.sleep(2)
        result["pods_running"] = running
        result["pods_running_s"] = round(last_change - t, 1)
        reasons: Counter[str] = Counter()
        for p in items:
            if (p.get("status") or {}).get("podIP"):
                continue
            cond = next((c for c in (p.get("status") or {}).get("conditions") or [] if c["type"] == "PodScheduled"), {})
            reasons[f"{cond.get('reason', 'not yet scheduled')}: {str(cond.get('message', ''))[:160]}"] += 1
        result["pods_pending"] = dict(reasons.most_common())
        lab.run_pods(running, timeout=120, serve=False)

        t = time.monotonic()
        istiod = lab.start_istiod()
        result["istiod_ready_s"] = round(time.monotonic() - t, 1)
        # the first edge zone's copy of a service that calls one failing over to the Region
        edge = next(s for s in plan.sites if s.kind != "region")
        call = next(c for c in edge.calls if c.failover == "region")
        copy_of = {c.service: c for c in edge.services}
        caller = next(p for p in lab.pods.values() if p.namespace == edge.namespace
                      and p.name.rsplit("-", 2)[0] == copy_of[call.caller].workload)
        host = f"{copy_of[call.callee].workload}.{edge.namespace}.svc.cluster.local"
        port = next(o["spec"]["ports"][0]["port"] for o in objs if o["kind"] == "Service"
                    and o["metadata"]["name"] == copy_of[call.callee].workload)
        cluster = f"outbound|{port}||{host}"
        t = time.monotonic()
        envoy = lab.start_sidecar(caller)
        admin = lab.admin_socket(caller)
        il.wait_for(f"{cluster} in the sidecar", lambda: il.eds_endpoints(admin, cluster), timeout=300)
        # settled: istiod has every push to this proxy acknowledged, twice in a row 5 s apart
        il.wait_for("istiod acks", lambda: il.istiod_acked(lab, f"{caller.name}.{caller.namespace}"), timeout=300)
        time.sleep(5)
        il.wait_for("istiod acks", lambda: il.istiod_acked(lab, f"{caller.name}.{caller.namespace}"), timeout=300)
        result["sidecar_config_s"] = round(time.monotonic() - t, 1)
        _, dump = il.admin_get(admin, "/config_dump?include_eds")
        cfg = json.loads(dump)["configs"]
        clusters = next(c for c in cfg if c["@type"].endswith("ClustersConfigDump"))
        eps = next(c for c in cfg if c["@type"].endswith("EndpointsConfigDump"))
        _, mem = il.admin_get(admin, "/memory")
        result["sidecar"] = {
            "clusters": len(clusters.get("dynamic_active_clusters", [])),
            "endpoints": sum(len(g.get("lb_endpoints", [])) for d in eps.get("dynamic_endpoint_configs", [])
                             for g in d["endpoint_config"].get("endpoints", [])),
            "config_dump_bytes": len(dump),
            "envoy_allocated_mib": round(int(json.loads(mem)["allocated"]) / 2**20, 1),
            "envoy_rss_mib": round(rss_kib(envoy.popen.pid) / 1024, 1),
        }
        # the failover host in this sidecar: own zone 0, the Region 1, no sibling edge
        by_priority: dict[int, Counter[str]] = {}
        zone_of_ip = {p.ip: p.zone for p in lab.pods.values()}
        for e in il.eds_endpoints(admin, cluster):
            z = zone_of_ip.get(e.ip, "?")
            tier = "own zone" if z == edge.site else ("region" if z not in edge_zones else f"other edge {z}")
            by_priority.setdefault(e.priority, Counter())[tier] += 1
        result["failover_host"] = {"host": host,
                                   "priorities": {str(k): dict(v) for k, v in sorted(by_priority.items())}}
        result["istiod"] = {
            "rss_mib": round(rss_kib(istiod.popen.pid) / 1024, 1),
            "cpu_s": round(cpu_seconds(istiod.popen.pid), 1),
            "xds": metrics(lab.istiod_monitoring),
        }
    print(json.dumps(result, indent=1))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
