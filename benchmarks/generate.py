"""Synthetic workloads for the benchmarks: an edgewise spec and the equivalent kustomize tree.

``spec`` : Z edge zones declared with an explicit ``type`` and names outside the catalog,
two Region AZs, and S services with mixed placements and a call chain.
``kustomize`` : what a team would otherwise keep in git: one base (a Deployment and a
Service per service) and one overlay per zone (namespace + node-affinity patch), plus a
root kustomization listing every overlay. Same Deployments, Services and namespaces per
zone as edgewise's plan (edge services in every edge zone, Region services in the Region).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import yaml

REGION = "us-east-1"


def placements(services: int) -> list[str]:
    """Mixed placements: mostly edge-and-region, some edge-only, some Region-only."""
    out = []
    for i in range(services):
        if i % 5 == 4:
            out.append("region")
        elif i % 7 == 6:
            out.append("edge")
        else:
            out.append("edge-and-region")
    return out


def zone_names(zones: int) -> list[str]:
    return [f"{REGION}-bench-{i:03d}a" for i in range(zones)]


def spec_documents(zones: int, services: int) -> list[dict[str, Any]]:
    zs: list[dict[str, Any]] = [
        {"name": f"{REGION}a", "nodeGroup": {"instanceType": "m6i.large", "desired": 3}},
        {"name": f"{REGION}b", "nodeGroup": {"instanceType": "m6i.large", "desired": 3}},
    ]
    for i, name in enumerate(zone_names(zones)):
        kind = "wavelength" if i % 4 == 3 else "local"
        z: dict[str, Any] = {"name": name, "type": kind,
                             "nodeGroup": {"instanceType": "c5.2xlarge", "desired": 1}}
        zs.append(z)
    places = placements(services)
    svcs: list[dict[str, Any]] = []
    for i, placement in enumerate(places):
        s: dict[str, Any] = {
            "name": f"svc-{i:03d}",
            "image": f"registry.example.com/bench/svc-{i:03d}:1.0.0",
            "port": 8000 + i,
            "placement": placement,
        }
        if i == 0:
            s["expose"] = {"path": "/"}
        nxt = i + 1
        if nxt < services:
            # a service with a Region copy can only call services that have one too
            while nxt < services and placement != "edge" and places[nxt] == "edge":
                nxt += 1
            if nxt < services:
                s["calls"] = [f"svc-{nxt:03d}"]
        svcs.append(s)
    topology = {
        "apiVersion": "edgewise.dev/v1alpha1",
        "kind": "Topology",
        "metadata": {"name": f"bench-{zones}x{services}"},
        "spec": {
            "region": REGION,
            "kubernetesVersion": "1.31",
            "endpointAccess": "private",
            # a /16 holds 256 /24s: each zone subnet plus a public subnet per Local Zone and
            # Region AZ must fit, so large sizes use /25s
            "vpc": {"cidr": "10.0.0.0/16", "subnetPrefixLength": 24 if zones <= 120 else 25},
            "zones": zs,
        },
    }
    app = {
        "apiVersion": "edgewise.dev/v1alpha1",
        "kind": "Application",
        "metadata": {"name": "bench"},
        "spec": {"routing": "kubernetes", "ingress": "alb", "services": svcs},
    }
    return [topology, app]


def write_spec(path: Path, zones: int, services: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump_all(spec_documents(zones, services), sort_keys=False))
    return path


def _deployment(name: str, port: int) -> dict[str, Any]:
    labels = {"app.kubernetes.io/name": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "containers": [{
                        "name": name,
                        "image": f"registry.example.com/bench/{name}:1.0.0",
                        "ports": [{"containerPort": port}],
                        "readinessProbe": {"tcpSocket": {"port": port}},
                        "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}},
                    }],
                },
            },
        },
    }


def _service(name: str, port: int) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name},
        "spec": {"selector": {"app.kubernetes.io/name": name},
                 "ports": [{"port": port, "targetPort": port}]},
    }


def write_kustomize(root: Path, zones: int, services: int) -> Path:
    """Write the kustomize tree; returns the directory to pass to `kubectl kustomize`."""
    places = placements(services)
    edge_svcs = [i for i, p in enumerate(places) if p != "region"]
    region_svcs = [i for i, p in enumerate(places) if p != "edge"]

    def base(dirname: str, idx: list[int]) -> None:
        d = root / dirname
        d.mkdir(parents=True, exist_ok=True)
        files = []
        for i in idx:
            name = f"svc-{i:03d}"
            (d / f"{name}.yaml").write_text(yaml.safe_dump_all(
                [_deployment(name, 8000 + i), _service(name, 8000 + i)], sort_keys=False))
            files.append(f"{name}.yaml")
        (d / "kustomization.yaml").write_text(yaml.safe_dump(
            {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
             "resources": files}, sort_keys=False))

    base("base-edge", edge_svcs)
    base("base-region", region_svcs)
    overlays = []
    targets = [(f"bench-{z.removeprefix(REGION + '-')}", [z], "base-edge") for z in zone_names(zones)]
    targets.append(("bench-region", [f"{REGION}a", f"{REGION}b"], "base-region"))
    for ns, zone_values, b in targets:
        d = root / "overlays" / ns
        d.mkdir(parents=True, exist_ok=True)
        (d / "namespace.yaml").write_text(yaml.safe_dump(
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}, sort_keys=False))
        patch = [{"op": "add", "path": "/spec/template/spec/affinity", "value": {
            "nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
                {"matchExpressions": [{"key": "topology.kubernetes.io/zone", "operator": "In",
                                       "values": zone_values}]}]}}}}]
        if b == "base-edge":
            patch.append({"op": "add", "path": "/spec/template/spec/tolerations", "value": [
                {"key": "edgewise.dev/edge", "operator": "Equal", "value": "true", "effect": "NoSchedule"}]})
        (d / "kustomization.yaml").write_text(yaml.safe_dump({
            "apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
            "namespace": ns,
            "resources": ["namespace.yaml", f"../../{b}"],
            "patches": [{"target": {"kind": "Deployment"}, "patch": yaml.safe_dump(patch)}],
        }, sort_keys=False))
        overlays.append(f"overlays/{ns}")
    (root / "kustomization.yaml").write_text(yaml.safe_dump(
        {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
         "resources": overlays}, sort_keys=False))
    return root


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("zones", type=int)
    ap.add_argument("services", type=int)
    ap.add_argument("-o", "--out", type=Path, default=Path("bench-out"))
    args = ap.parse_args()
    base = args.out / f"{args.zones}x{args.services}"
    print(write_spec(base / "spec.yaml", args.zones, args.services))
    print(write_kustomize(base / "kustomize", args.zones, args.services))


if __name__ == "__main__":
    main()
