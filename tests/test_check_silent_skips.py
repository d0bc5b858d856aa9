"""What check used to skip silently (issue 18, part 4): CronJobs, selectorless Services
backed by a hand-written EndpointSlice, and calls named through ConfigMaps referenced by
``envFrom`` or ``configMapKeyRef``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from edgewise.check import Severity, check_objects
from edgewise.k8s.inventory import Inventory, Source
from edgewise.routing import Caller, RouteResolver, infer_calls
from edgewise.spec import load_spec
from edgewise.topology import Topology, build_topology

ROOT = Path(__file__).resolve().parents[1]
LAX, LAS, AZA = "us-west-2-lax-1a", "us-west-2-las-1a", "us-west-2a"
TOL = [{"key": "edgewise.dev/edge", "operator": "Exists"}]


@pytest.fixture(scope="module")
def topo() -> Topology:
    return build_topology(load_spec(ROOT / "examples/local-zones-hashicups/topology.yaml"))


def pod(zone: str, env: list[dict[str, Any]] | None = None, env_from: list[dict[str, Any]] | None = None,
        ) -> dict[str, Any]:
    container: dict[str, Any] = {"name": "c", "image": "x", "env": env or []}
    if env_from:
        container["envFrom"] = env_from
    return {"nodeSelector": {"topology.kubernetes.io/zone": zone}, "tolerations": TOL, "containers": [container]}


def deployment(name: str, ns: str, zone: str, **kw: Any) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": ns},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}}, "spec": pod(zone, **kw)}}}


def service(name: str, ns: str, selector: bool = True) -> dict[str, Any]:
    spec: dict[str, Any] = {"ports": [{"port": 5432}]}
    if selector:
        spec["selector"] = {"app": name}
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": ns}, "spec": spec}


def configmap(name: str, ns: str, data: dict[str, str]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": ns}, "data": data}


def inventory(topo: Topology, *docs: dict[str, Any]) -> Inventory:
    return Inventory.from_objects(((d, Source("m.yaml", 1, i)) for i, d in enumerate(docs)), topo)


def test_calls_through_env_from_and_config_map_key_ref_are_found(topo: Topology) -> None:
    docs = [
        configmap("conn", "shop", {"DB_HOST": "db", "API": "api:9090", "DB_NAME": "db", "LOG_LEVEL": "debug"}),
        configmap("other", "shop", {"cache_host": "cache"}),
        deployment("web", "shop", LAX, env_from=[{"configMapRef": {"name": "conn"}, "prefix": "APP_"}],
                   env=[{"name": "CACHE_HOST", "valueFrom": {"configMapKeyRef": {"name": "other",
                                                                                 "key": "cache_host"}}},
                        {"name": "MISSING", "valueFrom": {"configMapKeyRef": {"name": "nope", "key": "x"}}}]),
        *(deployment(n, "shop", LAX) for n in ("db", "api", "cache")),
        *(service(n, "shop") for n in ("db", "api", "cache")),
    ]
    calls = {(c.workload, c.name, c.evidence) for c in infer_calls(inventory(topo, *docs))}
    assert calls == {
        ("web", "db", "envFrom ConfigMap conn key DB_HOST"),
        ("web", "api:9090", "envFrom ConfigMap conn key API"),
        ("web", "cache", "env CACHE_HOST (ConfigMap other key cache_host)"),
    }, "DB_NAME holds a database name, not a host; LOG_LEVEL names nothing"
    paths = {c.name: c.path for c in infer_calls(inventory(topo, *docs))}
    assert paths["cache"] == ("spec", "template", "spec", "containers", 0, "env", 0, "valueFrom", "configMapKeyRef")
    assert paths["db"] == ("spec", "template", "spec", "containers", 0, "envFrom", 0, "configMapRef")


def test_a_call_through_env_from_to_a_sibling_edge_zone_is_an_error(topo: Topology) -> None:
    docs = [
        configmap("conn", "shop", {"DB_HOST": "db.data"}),
        deployment("web", "shop", LAX, env_from=[{"configMapRef": {"name": "conn"}}]),
        deployment("db", "data", LAS),
        service("db", "data"),
    ]
    report = check_objects(((d, Source("m.yaml", 1, i)) for i, d in enumerate(docs)), topo)
    errors = [f for f in report.findings if f.severity is Severity.ERROR and f.object == "Deployment shop/web"]
    assert errors, report.findings
    assert report.routes_verified >= 1


def cronjob(name: str, ns: str, zone: str, env: list[dict[str, Any]]) -> dict[str, Any]:
    return {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": name, "namespace": ns},
            "spec": {"schedule": "*/5 * * * *", "jobTemplate": {"spec": {"template": {
                "metadata": {"labels": {"app": name}}, "spec": {**pod(zone, env=env), "restartPolicy": "Never"}}}}}}


def test_cronjobs_are_workloads_that_call(topo: Topology) -> None:
    docs = [cronjob("report", "shop", LAX, [{"name": "DB", "value": "db.data:5432"}]),
            deployment("db", "data", LAS), service("db", "data")]
    inv = inventory(topo, *docs)
    (w,) = [w for w in inv.workloads() if w.kind == "CronJob"]
    assert w.zones == (LAX,) and w.pod_path == ("spec", "jobTemplate", "spec", "template", "spec")
    assert {(c.kind, c.workload, c.name) for c in infer_calls(inv)} == {("CronJob", "report", "db.data:5432")}
    report = check_objects(((d, Source("m.yaml", 1, i)) for i, d in enumerate(docs)), topo)
    assert any(f.object == "CronJob shop/report" and f.severity is Severity.ERROR for f in report.findings), \
        report.findings


def endpoint_slice(service_name: str, ns: str, zones: list[str], ready: bool = True) -> dict[str, Any]:
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": f"{service_name}-manual", "namespace": ns,
                         "labels": {"kubernetes.io/service-name": service_name}},
            "addressType": "IPv4", "ports": [{"port": 5432}],
            "endpoints": [{"addresses": [f"10.0.{i}.10"], "zone": z, "conditions": {"ready": ready}}
                          for i, z in enumerate(zones)]}


def test_a_selectorless_service_is_judged_by_its_endpoint_slice(topo: Topology) -> None:
    docs = [deployment("web", "shop", LAX, env=[{"name": "DB_HOST", "value": "db"}]),
            service("db", "shop", selector=False), endpoint_slice("db", "shop", [LAS])]
    inv = inventory(topo, *docs)
    res = RouteResolver(inv, topo).resolve(Caller(LAX, "shop", "web"), "db")
    assert [(e.zone, e.workload) for e in res.endpoints] == [(LAS, "EndpointSlice db-manual")]
    assert any("EndpointSlice shop/db-manual" in n for n in res.notes)
    report = check_objects(((d, Source("m.yaml", 1, i)) for i, d in enumerate(docs)), topo)
    errors = [f for f in report.findings if f.severity is Severity.ERROR]
    assert any(f.object == "Deployment shop/web" for f in errors), report.findings


def test_endpoints_that_are_not_ready_or_in_the_region_are_not_errors(topo: Topology) -> None:
    docs = [deployment("web", "shop", LAX, env=[{"name": "DB_HOST", "value": "db"}]),
            service("db", "shop", selector=False), endpoint_slice("db", "shop", [AZA])]
    res = RouteResolver(inventory(topo, *docs), topo).resolve(Caller(LAX, "shop", "web"), "db")
    assert [e.zone for e in res.endpoints] == [AZA]
    docs[-1] = endpoint_slice("db", "shop", [LAS], ready=False)
    res = RouteResolver(inventory(topo, *docs), topo).resolve(Caller(LAX, "shop", "web"), "db")
    assert res.endpoints == ()
