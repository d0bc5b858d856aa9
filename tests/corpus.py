"""The public-app corpus: upstream manifests placed on a Local Zones cluster the way teams
write edge placements, and the expert expectations written before any run.

``python tests/corpus.py`` prints the TP/FP/FN table of the code on ``sys.path``
(docs/check-corpus.md records it before and after the fixes); tests/test_corpus.py keeps
the "after" figures from regressing.
"""

from __future__ import annotations

import copy
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "data" / "corpus"
TOPOLOGY = CORPUS / "topology.yaml"
EDGE = {"lax": "us-west-2-lax-1a", "las": "us-west-2-las-1a", "phx": "us-west-2-phx-2a"}
REGION_AZS = ["us-west-2a", "us-west-2b"]
SUBNETS = {"lax": "subnet-0c0000000000000c1", "las": "subnet-0c0000000000000c2", "phx": "subnet-0c0000000000000c3"}

Docs = list[dict[str, Any]]
#: hygiene rules (pod security, memory limits, credentials, volumes, TLS, DNS records) are
#: not edge placement or routing hazards: the corpus does not score them
NOT_SCORED = ("EW25", "EW45")
#: the bound tests/test_corpus.py holds the "after" figures to
MAX_FALSE_ALARMS = 3


def upstream(name: str) -> Docs:
    return [d for d in yaml.safe_load_all((CORPUS / "upstream" / f"{name}.yaml").read_text()) if d]


def _affinity(zones: list[str]) -> dict[str, Any]:
    return {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {"matchExpressions": [{"key": "topology.kubernetes.io/zone", "operator": "In", "values": zones}]}
                ]
            }
        }
    }


def zone_copy(dep: dict[str, Any], site: str, *, namespace: str | None = None, replicas: int = 2) -> dict[str, Any]:
    """A per-zone copy of a Deployment: name suffixed, pinned by zone affinity, 2 replicas."""
    d = copy.deepcopy(dep)
    d["metadata"]["name"] = f"{dep['metadata']['name']}-{site}"
    if namespace:
        d["metadata"]["namespace"] = namespace
    d["spec"]["replicas"] = replicas
    zones = [EDGE[site]] if site in EDGE else REGION_AZS
    d["spec"]["template"]["spec"]["affinity"] = _affinity(zones)
    return d


def per_zone_copies(docs: Docs) -> Docs:
    """Every Deployment copied to each Local Zone and the Region; Services unchanged."""
    out: Docs = []
    for d in docs:
        if d["kind"] == "Deployment":
            out += [zone_copy(d, site) for site in (*EDGE, "region")]
        else:
            out.append(d)
    return out


def prefer_close(docs: Docs) -> Docs:
    for d in docs:
        if d["kind"] == "Service" and d["spec"].get("type", "ClusterIP") == "ClusterIP":
            d["spec"]["trafficDistribution"] = "PreferClose"
    return docs


def istio_locality(docs: Docs) -> Docs:
    """A DestinationRule per Service as the Istio locality docs show it (outlier detection on)."""
    out = list(docs)
    for d in docs:
        if d["kind"] == "Service":
            name = d["metadata"]["name"]
            out.append(
                {
                    "apiVersion": "networking.istio.io/v1",
                    "kind": "DestinationRule",
                    "metadata": {"name": name},
                    "spec": {
                        "host": f"{name}.default.svc.cluster.local",
                        "trafficPolicy": {
                            "loadBalancer": {"localityLbSetting": {"enabled": True}},
                            "outlierDetection": {
                                "consecutive5xxErrors": 1,
                                "interval": "1s",
                                "baseEjectionTime": "1m",
                            },
                        },
                    },
                }
            )
    return out


def namespace_per_zone(docs: Docs, sites: tuple[str, ...] = (*EDGE, "region")) -> Docs:
    out: Docs = []
    for site in sites:
        out.append({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": site}})
        for d in docs:
            if d["kind"] == "Deployment":
                out.append(zone_copy(d, site, namespace=site))
            elif d["kind"] in ("Service", "Ingress"):
                c = copy.deepcopy(d)
                c["metadata"]["namespace"] = site
                out.append(c)
    # copies keep their upstream names inside each namespace
    for d in out:
        if d["kind"] == "Deployment":
            d["metadata"]["name"] = d["metadata"]["name"].rsplit("-", 1)[0]
    return out


def alb_ingress(service: str, port: int) -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {
            "name": service,
            "annotations": {
                "alb.ingress.kubernetes.io/scheme": "internet-facing",
                "alb.ingress.kubernetes.io/target-type": "ip",
                "alb.ingress.kubernetes.io/subnets": SUBNETS["lax"],
            },
        },
        "spec": {
            "ingressClassName": "alb",
            "rules": [
                {
                    "http": {
                        "paths": [
                            {
                                "path": "/",
                                "pathType": "Prefix",
                                "backend": {"service": {"name": service, "port": {"number": port}}},
                            }
                        ]
                    }
                }
            ],
        },
    }


def _helloworld_ingress() -> Docs:
    docs = namespace_per_zone([*upstream("helloworld"), alb_ingress("helloworld", 5000)], ("lax", "las"))
    # the las copy was made from the lax one and kept its subnet annotation (the usual slip);
    # copies are per zone: lax keeps the lax subnet, which is right
    return docs


def _caller_in_lax() -> Docs:
    sleep = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "sleep"},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "sleep"}},
            "template": {
                "metadata": {"labels": {"app": "sleep"}},
                "spec": {
                    "containers": [
                        {
                            "name": "sleep",
                            "image": "curlimages/curl",
                            "command": ["/bin/sleep", "infinity"],
                            "env": [{"name": "HELLO_URL", "value": "http://helloworld:5000/hello"}],
                        }
                    ]
                },
            },
        },
    }
    return [*per_zone_copies(upstream("helloworld")), zone_copy(sleep, "lax")]


def _guestbook_flat_frontend() -> Docs:
    out: Docs = []
    for d in upstream("guestbook"):
        if d["kind"] == "Deployment" and d["metadata"]["name"] == "frontend":
            out += [zone_copy(d, site) for site in (*EDGE, "region")]
        elif d["kind"] == "Deployment":
            r = copy.deepcopy(d)
            r["spec"]["template"]["spec"]["affinity"] = _affinity(REGION_AZS)
            out.append(r)
        else:
            out.append(d)
    return out


PLACEMENTS: dict[str, Callable[[], Docs]] = {
    "helloworld-as-is": lambda: upstream("helloworld"),
    "helloworld-flat": lambda: per_zone_copies(upstream("helloworld")),
    "helloworld-prefer-close": lambda: prefer_close(per_zone_copies(upstream("helloworld"))),
    "helloworld-istio-locality": lambda: istio_locality(per_zone_copies(upstream("helloworld"))),
    "helloworld-caller-in-lax": _caller_in_lax,
    "helloworld-ingress-per-zone": _helloworld_ingress,
    "bookinfo-as-is": lambda: upstream("bookinfo"),
    "bookinfo-flat": lambda: per_zone_copies(upstream("bookinfo")),
    "bookinfo-prefer-close": lambda: prefer_close(per_zone_copies(upstream("bookinfo"))),
    "bookinfo-namespace-per-zone": lambda: namespace_per_zone(upstream("bookinfo")),
    "guestbook-as-is": lambda: upstream("guestbook"),
    "guestbook-flat-frontend": _guestbook_flat_frontend,
    "coredns-as-shipped": lambda: upstream("coredns"),
}


def expected() -> dict[str, set[tuple[str, str]]]:
    data = yaml.safe_load((CORPUS / "expected.yaml").read_text())
    return {p: {(rule, obj) for rule, objs in (data[p] or {}).items() for obj in objs} for p in PLACEMENTS}


def write(name: str, directory: Path) -> Path:
    path = directory / f"{name}.yaml"
    path.write_text(yaml.safe_dump_all(PLACEMENTS[name](), sort_keys=False))
    return path


def measure(directory: Path) -> Iterator[tuple[str, set[tuple[str, str]], set[tuple[str, str]]]]:
    """(placement, expected, reported) for every placement, with default options."""
    from edgewise.check import check_paths
    from edgewise.spec import load_spec
    from edgewise.topology import build_topology

    topo = build_topology(load_spec(TOPOLOGY))
    want = expected()
    for name in PLACEMENTS:
        report = check_paths([write(name, directory)], topo, ignore=NOT_SCORED)
        yield name, want[name], {(f.rule, f.object) for f in report.findings}


def table(rows: list[tuple[str, set[tuple[str, str]], set[tuple[str, str]]]]) -> str:
    lines = ["| placement | expected | TP | FP | FN |", "|---|---:|---:|---:|---:|"]
    tp = fp = fn = n = 0
    for name, want, got in rows:
        t, f, m = len(want & got), len(got - want), len(want - got)
        tp, fp, fn, n = tp + t, fp + f, fn + m, n + len(want)
        lines.append(f"| {name} | {len(want)} | {t} | {f} | {m} |")
    lines.append(f"| **total** | {n} | {tp} | {fp} | {fn} |")
    return "\n".join(lines)


def details(rows: list[tuple[str, set[tuple[str, str]], set[tuple[str, str]]]]) -> str:
    out = []
    for name, want, got in rows:
        for r, o in sorted(got - want):
            out.append(f"- {name}: false alarm {r} on {o}")
        for r, o in sorted(want - got):
            out.append(f"- {name}: missed {r} on {o}")
    return "\n".join(out)


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        rows = list(measure(Path(tmp)))
    print(table(rows))
    print()
    print(details(rows))
    sys.exit(0)
