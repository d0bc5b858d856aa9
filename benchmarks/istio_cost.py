"""What the Istio backend's standby-pod design costs on a real control plane (issue: cost check).

Plans the benchmark application (benchmarks/generate.py) at ZONES x SERVICES with routing
``istio``, applies it to the Istio lab (tests/istio_lab.py: etcd, kube-apiserver,
controller-manager, scheduler, a pod "kubelet", istiod) and measures:

* objects and pods by kind (edge copies, Region copies, Region standby copies);
* wall time until every pod is Ready and istiod is ready;
* istiod: resident memory, and the xDS one edge sidecar receives (clusters, endpoints,
  bytes of its config dump).

    python -m benchmarks.istio_cost --zones 50 --services 20 --json bench-out/istio-cost.json

Needs root (network namespaces) and the lab's programs (tools/istio-build.sh and the
Kubernetes builds). Figures are machine-dependent; docs/istio-lab.md keeps one run.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--zones", type=int, default=50)
    ap.add_argument("--services", type=int, default=20)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    missing = il.missing_parts()
    if missing:
        sys.exit("istio lab unavailable: " + "; ".join(missing))

    docs = spec_documents(args.zones, args.services)
    docs[1]["spec"]["routing"] = "istio"
    tmp = Path(tempfile.mkdtemp(prefix="ewi-cost-"))
    (tmp / "spec.yaml").write_text(yaml.safe_dump_all(docs, sort_keys=False))
    spec = load_spec(tmp / "spec.yaml")
    topology = build_topology(spec)
    plan = plan_application(topology, spec.applications[0][0])
    objs = objects(plan)
    kinds = Counter(o["kind"] for o in objs)
    pods: Counter[str] = Counter()
    for o in objs:
        if o["kind"] == "Deployment":
            role = ("standby" if o["metadata"]["name"].endswith("-region")
                    else "region" if o["metadata"]["namespace"] == plan.site("region").namespace
                    else "edge")
            pods[role] += int(o["spec"]["replicas"])
    result: dict[str, Any] = {
        "zones": args.zones, "services": args.services,
        "objects": dict(sorted(kinds.items())), "objects_total": len(objs),
        "pods": dict(pods), "pods_total": sum(pods.values()),
    }
    t0 = time.monotonic()
    with il.istio_lab(topology) as lab:
        result["lab_start_s"] = round(time.monotonic() - t0, 1)
        t = time.monotonic()
        lab.apply_docs([o for o in objs if o["kind"] == "Namespace"])
        lab.apply_docs([o for o in objs if o["kind"] != "Namespace"])
        result["apply_s"] = round(time.monotonic() - t, 1)
        t = time.monotonic()
        lab.run_pods(sum(pods.values()), timeout=900, serve=False)
        result["pods_ready_s"] = round(time.monotonic() - t, 1)
        t = time.monotonic()
        istiod = lab.start_istiod()
        result["istiod_ready_s"] = round(time.monotonic() - t, 1)
        edge = next(s for s in plan.sites if s.kind != "region")
        caller = next(p for p in lab.pods.values()
                      if p.namespace == edge.namespace and p.name.rsplit("-", 2)[0] == "svc-000")
        t = time.monotonic()
        lab.start_sidecar(caller)
        admin = lab.admin_socket(caller)
        il.wait_for("sidecar clusters", lambda: b"outbound|" in il.admin_get(admin, "/clusters")[1],
                    timeout=120)
        time.sleep(5)  # let the last pushes land
        result["sidecar_first_config_s"] = round(time.monotonic() - t, 1)
        _, dump = il.admin_get(admin, "/config_dump?include_eds")
        cfg = json.loads(dump)["configs"]
        clusters = next(c for c in cfg if c["@type"].endswith("ClustersConfigDump"))
        eps = next(c for c in cfg if c["@type"].endswith("EndpointsConfigDump"))
        n_clusters = len(clusters.get("dynamic_active_clusters", []))
        n_endpoints = sum(
            len(g.get("lb_endpoints", []))
            for d in eps.get("dynamic_endpoint_configs", [])
            for g in d["endpoint_config"].get("endpoints", [])
        )
        result["sidecar"] = {"clusters": n_clusters, "endpoints": n_endpoints,
                             "config_dump_bytes": len(dump)}
        result["istiod_rss_mib"] = round(rss_kib(istiod.popen.pid) / 1024, 1)
    print(json.dumps(result, indent=1))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
