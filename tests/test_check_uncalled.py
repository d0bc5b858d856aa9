"""Services with no known caller: entry Services are not east-west hazards, and every
routing tier is judged (an Istio locality failover into a sibling edge zone); an Ingress
naming another zone's subnet is reported as that."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from edgewise.check import check_paths
from edgewise.spec import load_spec
from edgewise.topology import Topology, build_topology

ROOT = Path(__file__).resolve().parents[1]
RULES = ROOT / "tests" / "data" / "rules"
LZ_SPEC = ROOT / "examples" / "local-zones-hashicups" / "topology.yaml"
LAX, LAS = "us-west-2-lax-1a", "us-west-2-las-1a"


@pytest.fixture(scope="module")
def lz() -> Topology:
    return build_topology(load_spec(LZ_SPEC))


def per_zone(name: str, zone: str | None, labels: dict[str, str] | None = None) -> dict[str, Any]:
    labels = {"app": name, **(labels or {})}
    pin = {"topology.kubernetes.io/zone": zone} if zone else {"edgewise.dev/role": "region"}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": f"{name}-{(zone or 'region').split('-')[-2] if zone else 'region'}"},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"nodeSelector": pin, "containers": [{"name": "c", "image": "x"}]},
            },
        },
    }


def service(name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name},
        "spec": {"selector": {"app": name}, "ports": [{"port": 80}], **spec},
    }


def flat(name: str, **spec: Any) -> list[dict[str, Any]]:
    """One Service over per-zone copies in two Local Zones and the Region: no caller known."""
    return [per_zone(name, LAX), per_zone(name, LAS), per_zone(name, None), service(name, **spec)]


def findings(tmp_path: Path, lz: Topology, docs: list[Any], rule: str) -> list[Any]:
    p = tmp_path / "m.yaml"
    p.write_text(yaml.safe_dump_all(docs, sort_keys=False))
    return [f for f in check_paths([p], lz).findings if f.rule == rule]


def test_uncalled_cluster_ip_service_over_edge_zones_is_reported(tmp_path: Path, lz: Topology) -> None:
    hits = findings(tmp_path, lz, flat("api"), "EW301")
    assert [f.object for f in hits] == ["Service default/api"]


@pytest.mark.parametrize("svc_type", ["LoadBalancer", "NodePort"])
def test_entry_services_are_not_east_west_hazards(tmp_path: Path, lz: Topology, svc_type: str) -> None:
    assert findings(tmp_path, lz, flat("frontend", type=svc_type), "EW301") == []
    # ... and not PreferClose alarms either when nothing in the cluster calls them
    docs = flat("frontend", type=svc_type, trafficDistribution="PreferClose")
    assert findings(tmp_path, lz, docs, "EW302") == []


def test_ingress_backend_is_an_entry_service(tmp_path: Path, lz: Topology) -> None:
    ing = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": "frontend"},
        "spec": {
            "ingressClassName": "nginx",
            "rules": [
                {
                    "http": {
                        "paths": [
                            {
                                "path": "/",
                                "pathType": "Prefix",
                                "backend": {"service": {"name": "frontend", "port": {"number": 80}}},
                            }
                        ]
                    }
                }
            ],
        },
    }
    assert findings(tmp_path, lz, [*flat("frontend"), ing], "EW301") == []


def test_entry_service_with_an_in_cluster_caller_is_still_judged(tmp_path: Path, lz: Topology) -> None:
    caller = per_zone("web", LAX)
    caller["spec"]["template"]["spec"]["containers"][0]["env"] = [{"name": "U", "value": "http://frontend"}]
    hits = findings(tmp_path, lz, [*flat("frontend", type="LoadBalancer"), caller], "EW301")
    assert len(hits) == 1 and LAS in hits[0].message


def test_istio_locality_tier_into_a_sibling_edge_zone_is_judged(tmp_path: Path, lz: Topology) -> None:
    dr = {
        "apiVersion": "networking.istio.io/v1",
        "kind": "DestinationRule",
        "metadata": {"name": "api"},
        "spec": {
            "host": "api",
            "trafficPolicy": {
                "outlierDetection": {"consecutive5xxErrors": 3, "interval": "10s"},
                "loadBalancer": {"localityLbSetting": {"enabled": True}},
            },
        },
    }
    hits = findings(tmp_path, lz, [*flat("api"), dr], "EW301")
    assert len(hits) == 1
    # the first tier is the caller's own zone: only the failover tier reaches the sibling
    assert "istio-locality" in hits[0].message and f"from {LAX} -> {LAS}" in hits[0].message


def test_ingress_naming_another_zones_subnet_is_reported_as_that() -> None:
    report = check_paths([RULES / "EW406" / "fail.yaml"], None)
    rules = {f.rule for f in report.findings}
    assert "EW406" in rules and "EW402" not in rules  # not "spans"
    msg = next(f.message for f in report.findings if f.rule == "EW406")
    assert f"names the subnet of {LAX} but its backends run in {LAS}" in msg


def test_ingress_over_two_zones_still_spans() -> None:
    report = check_paths([RULES / "EW402" / "fail.yaml"], None)
    assert {f.rule for f in report.findings} >= {"EW402"}
    assert "EW406" not in {f.rule for f in report.findings}
