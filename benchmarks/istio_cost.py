"""What the Istio backend's failover costs on a real control plane (issue: cost check).

Plans the benchmark application (benchmarks/generate.py) at ZONES x SERVICES with routing
``istio``, applies it to the Istio lab (tests/istio_lab.py: the lab's kube-apiserver,
scheduler, controller-manager and kwok with the topology's nodes, istiod) and measures:

* objects and pods by role (edge copies, the Region's own copies, Region standby copies),
  and the Region nodes' pod capacity;
* pods the scheduler could not place, with its reason;
* istiod: resident memory, CPU seconds, pushes and the bytes it pushed per xDS type
  (its own ``pilot_xds_config_size_bytes`` and ``pilot_xds_pushes`` metrics);
* one edge sidecar: clusters, endpoints and bytes of its config dump, Envoy's memory, and
  the priorities of its failover host (own zone 0, Region 1, nothing else).

``--design standby`` (the default) measures the plan as the backend writes it: in every
edge namespace a ``<service>-region`` standby Deployment (2 Region-pinned pods) for every
service that fails over. ``--design per-zone-names`` measures the alternative of
docs/istio-lab.md on the same plan, rewritten here (the generator does not write it): one
namespace, the zone copies as ``<service>-<zone>`` Deployments, the Region copy carrying
one ``edgewise.dev/failover-<zone>`` label per zone, and per zone a Service
``<service>-<zone>`` selecting that label (the zone's pods and the Region's) with the
plan's DestinationRule; no standby pods.

    python -m benchmarks.istio_cost --zones 50 --services 20 --json bench-out/istio-cost.json
    python -m benchmarks.istio_cost --design per-zone-names --json bench-out/istio-cost-pzn.json

Needs root (network namespaces) and the lab's programs (make lab, tools/istio-build.sh).
Figures are machine-dependent; docs/istio-lab.md keeps one run.
"""

from __future__ import annotations

import argparse
import copy
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

from edgewise.plan.apps import AppPlan, objects, plan_application
from edgewise.spec import load_spec
from edgewise.topology import build_topology

from .generate import spec_documents

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
import istio_lab as il

STANDBY = "standby"
PER_ZONE_NAMES = "per-zone-names"
FAILOVER_LABEL = "edgewise.dev/failover-"


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def zone_key(zone: str) -> str:
    return re.sub(r"[^a-z0-9-]", "-", zone.lower())


def per_zone_names(plan: AppPlan, objs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The plan's objects rewritten to the per-zone-names design (see the module doc):
    everything in the Region's namespace, no standby Deployments or their PDBs."""
    home = plan.site("region").namespace
    zone_of_ns = {s.namespace: s.site for s in plan.sites if s.kind != "region"}
    out: list[dict[str, Any]] = []
    failover_zones: dict[str, list[str]] = {}  # service -> zones whose host includes the Region copy
    for o in objs:
        ns = o["metadata"].get("namespace")
        if ns in zone_of_ns and o["kind"] == "Deployment" and o["metadata"]["name"].endswith("-region"):
            failover_zones.setdefault(o["metadata"]["name"].removesuffix("-region"), []).append(zone_of_ns[ns])
    for o in objs:
        o = copy.deepcopy(o)
        md = o["metadata"]
        ns, kind, name = md.get("namespace"), o["kind"], md["name"]
        if kind == "Namespace":
            if md["name"] == home:
                out.append(o)
            continue
        if ns == home:
            if kind == "Deployment":
                labels = o["spec"]["template"]["metadata"]["labels"]
                for z in failover_zones.get(name, []):
                    labels[FAILOVER_LABEL + zone_key(z)] = "true"
            if kind == "Service":  # the Region's own host: the Region copy only
                o["spec"]["selector"]["edgewise.dev/copy"] = "region"
            out.append(o)
            continue
        if ns not in zone_of_ns:
            continue
        zone = zone_of_ns[ns]
        key = zone_key(zone)
        if name.endswith("-region") and kind in ("Deployment", "PodDisruptionBudget"):
            continue  # no standby copies
        if kind == "Deployment":
            md["name"], md["namespace"] = f"{name}-{key}", home
            o["spec"]["selector"]["matchLabels"]["edgewise.dev/zone"] = zone
            o["spec"]["template"]["metadata"]["labels"][FAILOVER_LABEL + key] = "true"
            out.append(o)
        elif kind == "Service" and "selector" in o["spec"]:  # an ExternalName alias of a
            md["name"], md["namespace"] = f"{name}-{key}", home  # Region-only service is not needed
            o["spec"]["selector"] = {"app.kubernetes.io/part-of": o["spec"]["selector"]["app.kubernetes.io/part-of"],
                                     "edgewise.dev/service": name, FAILOVER_LABEL + key: "true"}
            out.append(o)
        elif kind == "DestinationRule":
            md["name"], md["namespace"] = f"{name}-{key}", home
            o["spec"]["host"] = f"{name}-{key}.{home}.svc.cluster.local"
            out.append(o)
        elif kind == "PodDisruptionBudget":
            md["name"], md["namespace"] = f"{name}-{key}", home
            o["spec"]["selector"]["matchLabels"]["edgewise.dev/zone"] = zone
            out.append(o)
        elif kind == "Ingress":
            md["name"], md["namespace"] = f"{name}-{key}", home
            for rule in o["spec"].get("rules", []):
                for path in rule.get("http", {}).get("paths", []):
                    svc = path["backend"]["service"]
                    svc["name"] = f"{svc['name']}-{key}"
            out.append(o)
    return out


def roles(objs: list[dict[str, Any]], region_ns: str) -> Counter[str]:
    pods: Counter[str] = Counter()
    for o in objs:
        if o["kind"] != "Deployment":
            continue
        labels = o["spec"]["template"]["metadata"]["labels"]
        if labels.get("edgewise.dev/copy") == "region":
            role = "standby" if o["metadata"]["namespace"] != region_ns else "region"
        else:
            role = "edge"
        pods[role] += int(o["spec"]["replicas"])
    return pods


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
    ap.add_argument("--design", choices=(STANDBY, PER_ZONE_NAMES), default=STANDBY)
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
    region_ns = plan.site("region").namespace
    objs = objects(plan)
    if args.design == PER_ZONE_NAMES:
        objs = per_zone_names(plan, objs)
    kinds = Counter(o["kind"] for o in objs)
    pods = roles(objs, region_ns)
    result: dict[str, Any] = {
        "zones": args.zones, "services": args.services, "design": args.design,
        "region_instance_type": args.region_instance_type or "m6i.large",
        "objects": dict(sorted(kinds.items())), "objects_total": len(objs),
        "pods": dict(pods), "pods_total": sum(pods.values()),
    }
    t0 = time.monotonic()
    with il.istio_lab(topology) as lab:
        result["lab_start_s"] = round(time.monotonic() - t0, 1)
        edge_zones = set(lab.edge_zones)
        region_nodes = [n for n in lab.kube.list("v1", "Node")
                        if lab.zone_of_node[n["metadata"]["name"]] not in edge_zones]
        result["region_nodes"] = len(region_nodes)
        result["region_pod_capacity"] = sum(int(n["status"]["capacity"]["pods"]) for n in region_nodes)
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
        edge = next(s for s in plan.sites if s.kind != "region")
        caller_deploy = "svc-000" if args.design == STANDBY else f"svc-000-{zone_key(edge.site)}"
        caller_ns = edge.namespace if args.design == STANDBY else region_ns
        caller = next(p for p in lab.pods.values()
                      if p.namespace == caller_ns and p.name.rsplit("-", 2)[0] == caller_deploy)
        host = (f"svc-001.{edge.namespace}.svc.cluster.local" if args.design == STANDBY
                else f"svc-001-{zone_key(edge.site)}.{region_ns}.svc.cluster.local")
        cluster = f"outbound|8001||{host}"
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
