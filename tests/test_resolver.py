"""The shared route resolver: kube DNS, topology hints, Consul chains, Istio locality."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from edgewise.k8s.inventory import Inventory, Source
from edgewise.routing import Caller, Endpoint, RouteResolver, infer_calls, parse_host
from edgewise.routing.resolver import split_cluster_name
from edgewise.spec import load_spec
from edgewise.topology import Topology, build_topology

ROOT = Path(__file__).resolve().parents[1]
AZA, AZB, LAX, LAS, PHX = (
    "us-west-2a",
    "us-west-2b",
    "us-west-2-lax-1a",
    "us-west-2-las-1a",
    "us-west-2-phx-2a",
)
TOL = [{"key": "edgewise.dev/edge", "operator": "Exists"}]
INJECT = {"consul.hashicorp.com/connect-inject": "true"}


@pytest.fixture(scope="module")
def topo() -> Topology:
    return build_topology(load_spec(ROOT / "examples/local-zones-hashicups/topology.yaml"))


def deploy(
    name: str,
    ns: str,
    zones: list[str] | None = None,
    *,
    replicas: int = 1,
    annotations: dict[str, str] | None = None,
    env: dict[str, str] | None = None,
    labels: dict[str, str] | None = None,
) -> dict[str, Any]:
    pod: dict[str, Any] = {
        "containers": [
            {
                "name": "c",
                "image": "x",
                "env": [{"name": k, "value": v} for k, v in (env or {}).items()],
            }
        ],
        "tolerations": TOL,
    }
    if zones:
        pod["nodeSelector"] = {"topology.kubernetes.io/zone": zones[0]} if len(zones) == 1 else {}
        if len(zones) > 1:
            pod["affinity"] = {
                "nodeAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": {
                        "nodeSelectorTerms": [
                            {
                                "matchExpressions": [
                                    {
                                        "key": "topology.kubernetes.io/zone",
                                        "operator": "In",
                                        "values": zones,
                                    }
                                ]
                            }
                        ]
                    }
                }
            }
    lab = labels or {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": lab},
            "template": {
                "metadata": {"labels": lab, "annotations": annotations or {}},
                "spec": pod,
            },
        },
    }


def service(name: str, ns: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"selector": {"app": name}, "ports": [{"port": 80}], **spec},
    }


def crd(
    kind: str, name: str, ns: str, spec: dict[str, Any], api: str = "consul.hashicorp.com/v1alpha1"
) -> dict[str, Any]:
    return {
        "apiVersion": api,
        "kind": kind,
        "metadata": {"name": name, "namespace": ns},
        "spec": spec,
    }


def resolver(topo: Topology, *docs: dict[str, Any]) -> RouteResolver:
    inv = Inventory.from_objects(((d, Source("m.yaml", 1, i)) for i, d in enumerate(docs)), topo)
    return RouteResolver(inv, topo)


def zones_of(eps: tuple[Endpoint, ...]) -> set[str]:
    return {e.zone for e in eps}


def test_plain_service_spans_every_zone_seed_scenario(topo: Topology) -> None:
    # the Local Zones blog: one Service, pods in three Local Zones and two AZs; web in LZ 3 calls it
    r = resolver(
        topo,
        deploy("app", "default", [LAX, LAS, PHX, AZA, AZB], replicas=5),
        service("app", "default"),
        deploy("web", "default", [PHX]),
    )
    res = r.resolve(Caller(PHX, "default", "web"), "http://app:80/x")
    assert res.found and len(res.tiers) == 1 and res.tiers[0].mechanism == "kube-proxy"
    assert zones_of(res.tiers[0].endpoints) == {LAX, LAS, PHX, AZA, AZB}
    assert sum(e.weight for e in res.tiers[0].endpoints) == pytest.approx(5)
    unreachable = {e.zone for e in res.effective(lambda e: True) if not topo.reachable(PHX, e.zone)}
    assert unreachable == {LAX, LAS}


def test_short_name_missing_in_zone_namespace_is_nxdomain(topo: Topology) -> None:
    r = resolver(
        topo,
        deploy("postgres", "region", [AZA]),
        service("postgres", "region"),
        deploy("api", "lax", [LAX]),
    )
    res = r.resolve(Caller(LAX, "lax", "api"), "postgres:5432")
    assert not res.found and res.tiers == ()
    assert any("region" in n for n in res.notes)
    ok = r.resolve(Caller(LAX, "lax", "api"), "postgres.region.svc.cluster.local")
    assert ok.found and zones_of(ok.tiers[0].endpoints) == {AZA} and ok.target == "region/postgres"
    assert r.resolve(Caller(LAX, "lax", "api"), "postgres.nope").external == "postgres.nope"
    assert not r.resolve(Caller(LAX, "lax", "api"), "nothere.region").found


def test_external_name_alias_is_followed(topo: Topology) -> None:
    alias = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "postgres", "namespace": "lax"},
        "spec": {"type": "ExternalName", "externalName": "postgres.region.svc.cluster.local"},
    }
    ext = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "mail", "namespace": "lax"},
        "spec": {"type": "ExternalName", "externalName": "smtp.example.com"},
    }
    r = resolver(topo, deploy("postgres", "region", [AZA]), service("postgres", "region"), alias, ext)
    res = r.resolve(Caller(LAX, "lax", "api"), "postgres")
    assert res.found and zones_of(res.tiers[0].endpoints) == {AZA}
    assert any("ExternalName" in n for n in res.notes)
    out = r.resolve(Caller(LAX, "lax", "api"), "mail")
    assert out.found and out.tiers == () and out.external == "smtp.example.com"


def test_prefer_close_falls_back_cluster_wide(topo: Topology) -> None:
    r = resolver(
        topo,
        deploy("app", "default", [LAX, LAS, AZA], replicas=3),
        service("app", "default", trafficDistribution="PreferClose"),
    )
    res = r.resolve(Caller(LAX, "default", "web"), "app")
    assert [t.mechanism for t in res.tiers] == ["topology-hints", "topology-hints-fallback"]
    assert zones_of(res.tiers[0].endpoints) == {LAX}
    assert zones_of(res.tiers[1].endpoints) == {LAX, LAS, AZA}
    # the local pod is down: requests go cluster-wide, including the sibling Local Zone
    assert zones_of(res.effective(lambda e: e.zone != LAX)) == {LAS, AZA}


def test_topology_mode_annotation_and_internal_traffic_local(topo: Topology) -> None:
    hints = service("a", "default")
    hints["metadata"]["annotations"] = {"service.kubernetes.io/topology-mode": "Auto"}
    r = resolver(
        topo,
        deploy("a", "default", [LAX, AZA], replicas=2),
        hints,
        deploy("b", "default", [LAS, AZA], replicas=2),
        service("b", "default", internalTrafficPolicy="Local"),
    )
    assert r.resolve(Caller(AZA, "default", "x"), "a").tiers[1].mechanism == "topology-hints-fallback"
    local = r.resolve(Caller(LAX, "default", "x"), "b")
    assert len(local.tiers) == 1 and local.tiers[0].endpoints == ()
    assert local.effective(lambda e: True) == ()


def test_consul_enterprise_redirect_and_failover(topo: Topology) -> None:
    docs = [
        deploy("postgres", "region", [AZA], annotations=INJECT),
        service("postgres", "region"),
        deploy("product-api", "region", [AZA, AZB], annotations=INJECT, replicas=2),
        service("product-api", "region"),
        deploy("product-api", "lax", [LAX], annotations=INJECT),
        service("product-api", "lax"),
        deploy("public-api", "lax", [LAX], annotations=INJECT),
        service("public-api", "lax"),
        crd(
            "ServiceResolver",
            "postgres",
            "lax",
            {"redirect": {"service": "postgres", "namespace": "region"}},
        ),
        crd(
            "ServiceResolver",
            "product-api",
            "lax",
            {"failover": {"*": {"service": "product-api", "namespace": "region"}}},
        ),
        # region's own resolver fails over to LAS: must NOT be followed (one level)
        crd(
            "ServiceResolver",
            "product-api",
            "region",
            {"failover": {"*": {"service": "product-api", "namespace": "las"}}},
        ),
    ]
    r = resolver(topo, *docs)
    me = Caller(LAX, "lax", "public-api")
    red = r.resolve(me, "postgres", via="consul")
    assert red.tiers[0].mechanism == "consul-redirect" and zones_of(red.tiers[0].endpoints) == {AZA}
    assert red.target == "consul:region/postgres"
    fo = r.resolve(me, "product-api")  # transparent proxy: DNS name routed by Consul
    assert [t.mechanism for t in fo.tiers] == ["consul", "consul-failover"]
    assert zones_of(fo.tiers[0].endpoints) == {LAX} and zones_of(fo.tiers[1].endpoints) == {
        AZA,
        AZB,
    }
    assert zones_of(fo.effective(lambda e: e.zone != LAX)) == {AZA, AZB}
    assert zones_of(fo.effective(lambda e: False)) == set()


def test_consul_ce_per_zone_names(topo: Topology) -> None:
    lax = dict(INJECT, **{"consul.hashicorp.com/connect-service": "product-api-lax"})
    docs = [
        deploy(
            "product-api-lax",
            "default",
            [LAX],
            annotations=lax,
            labels={"app": "pa", "zone": "lax"},
        ),
        deploy(
            "product-api",
            "default",
            [AZA],
            annotations=INJECT,
            labels={"app": "pa", "zone": "region"},
        ),
        crd(
            "ServiceResolver",
            "product-api-lax",
            "default",
            {"failover": {"*": {"service": "product-api"}}},
        ),
        deploy(
            "web",
            "default",
            [LAX],
            annotations=dict(INJECT, **{"consul.hashicorp.com/connect-service-upstreams": "product-api-lax:9090"}),
        ),
    ]
    r = resolver(topo, *docs)
    (call,) = [c for c in r.calls() if c.workload == "web"]
    assert call.via == "consul" and call.name == "product-api-lax"
    res = r.resolve(Caller(LAX, "default", "web"), call.name, via=call.via)
    assert [zones_of(t.endpoints) for t in res.tiers] == [{LAX}, {AZA}]


def test_consul_subset_filter(topo: Topology) -> None:
    v1 = dict(INJECT, **{"consul.hashicorp.com/service-meta-version": "v1"})
    v2 = dict(
        INJECT,
        **{
            "consul.hashicorp.com/service-meta-version": "v2",
            "consul.hashicorp.com/connect-service": "api",
        },
    )
    docs = [
        deploy("api", "default", [AZA], annotations=v1),
        deploy("api2", "default", [AZB], annotations=v2),
        crd(
            "ServiceResolver",
            "api",
            "default",
            {"defaultSubset": "v2", "subsets": {"v2": {"filter": 'Service.Meta.version == "v2"'}}},
        ),
    ]
    res = resolver(topo, *docs).resolve(Caller(AZA, "default", "x"), "api", via="consul")
    assert zones_of(res.tiers[0].endpoints) == {AZB}


def dr(host: str, ns: str, *, outlier: bool, prio: list[str] | None = None) -> dict[str, Any]:
    tp: dict[str, Any] = {"loadBalancer": {"localityLbSetting": {"enabled": True}}}
    if prio:
        tp["loadBalancer"]["localityLbSetting"]["failoverPriority"] = prio
    if outlier:
        tp["outlierDetection"] = {"consecutive5xxErrors": 1, "maxEjectionPercent": 100}
    return crd(
        "DestinationRule",
        host,
        ns,
        {"host": host, "trafficPolicy": tp},
        api="networking.istio.io/v1beta1",
    )


def test_istio_failover_priority_needs_outlier_detection(topo: Topology) -> None:
    base = [deploy("api", "default", [LAX, AZA], replicas=2), service("api", "default")]
    good = resolver(topo, *base, dr("api", "default", outlier=True, prio=["topology.kubernetes.io/zone"]))
    res = good.resolve(Caller(LAX, "default", "web"), "api.default.svc.cluster.local")
    assert [zones_of(t.endpoints) for t in res.tiers] == [{LAX}, {AZA}]
    assert res.tiers[0].mechanism == "istio-locality"
    bad = resolver(topo, *base, dr("api", "default", outlier=False, prio=["topology.kubernetes.io/zone"]))
    res2 = bad.resolve(Caller(LAX, "default", "web"), "api")
    assert len(res2.tiers) == 1 and zones_of(res2.tiers[0].endpoints) == {LAX, AZA}
    assert any("outlierDetection" in n for n in res2.notes)


def test_calls_inference(topo: Topology) -> None:
    cm = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "cfg", "namespace": "default"},
        "data": {
            "conf": "host=postgres port=5432 user=postgres dbname=products\n"
            "location /api { proxy_pass http://public-api:8080; }"
        },
    }
    web = deploy(
        "web",
        "default",
        [AZA],
        env={
            "API": "http://product-api:9090",
            "DB_USER": "postgres",
            "X": "postgres.default.svc.cluster.local",
            "P": "/etc/x",
        },
        annotations={"edgewise.dev/calls": "cache, queue"},
    )
    web["spec"]["template"]["spec"]["volumes"] = [{"name": "v", "configMap": {"name": "cfg"}}]
    pg = deploy("postgres", "default", [AZA], env={"POSTGRES_USER": "postgres"})
    intent = crd(
        "ServiceIntentions",
        "product-api",
        "default",
        {
            "destination": {"name": "product-api"},
            "sources": [{"name": "pg", "action": "allow"}, {"name": "*", "action": "deny"}],
        },
    )
    pg_consul = deploy(
        "pgc",
        "default",
        [AZA],
        annotations=dict(INJECT, **{"consul.hashicorp.com/connect-service": "pg"}),
        labels={"app": "pgc"},
    )
    docs = [cm, web, pg, pg_consul, intent] + [
        service(n, "default") for n in ("postgres", "product-api", "public-api", "web")
    ]
    inv = Inventory.from_objects(((d, Source("m.yaml", 1, i)) for i, d in enumerate(docs)), topo)
    calls = {(c.workload, c.name, c.via) for c in infer_calls(inv)}
    assert calls == {
        ("web", "cache", "dns"),
        ("web", "queue", "dns"),
        ("web", "http://product-api:9090", "dns"),
        ("web", "postgres.default.svc.cluster.local", "dns"),
        ("web", "postgres", "dns"),
        ("web", "public-api", "dns"),
        ("pgc", "product-api", "consul"),
    }


def test_callers_and_names(topo: Topology) -> None:
    r = resolver(
        topo,
        deploy("web", "default", [LAX, AZA], env={"U": "http://api:80"}),
        deploy("api", "default", [AZA]),
        service("api", "default"),
    )
    (call,) = r.calls()
    assert [c.zone for c in r.callers(call)] == [AZA, LAX]  # topology order
    assert r.callers_of("default", "api") == [call]
    assert parse_host("HTTP://u@Api.NS:90/p") == ("api.ns", 90)
    assert split_cluster_name("a.b.svc.cluster.local", "x") == ("a", "b")
    assert split_cluster_name("www.example.com", "x") is None


def test_outpost_hints_use_the_parent_az_label() -> None:
    # Outpost nodes carry their parent AZ in topology.kubernetes.io/zone, so "same zone" for
    # an Outpost caller is its rack plus the parent AZ (both reachable), never the other rack
    op = build_topology(load_spec(ROOT / "examples/outposts/topology.yaml"))
    docs = []
    for zone in ("us-west-2a", "outpost-1", "outpost-2"):
        d = deploy(f"db-{zone}", "default", labels={"app": "db", "at": zone})
        d["spec"]["template"]["spec"]["nodeSelector"] = {"edgewise.dev/zone": zone}
        docs.append(d)
    r = resolver(op, *docs, service("db", "default", trafficDistribution="PreferClose"))
    res = r.resolve(Caller("outpost-1", "default", "web"), "db")
    assert zones_of(res.tiers[0].endpoints) == {"us-west-2a", "outpost-1"}
    assert zones_of(res.tiers[1].endpoints) == {"us-west-2a", "outpost-1", "outpost-2"}
    res2 = r.resolve(Caller("outpost-2", "default", "web"), "db")
    assert zones_of(res2.tiers[0].endpoints) == {"outpost-2"}  # us-west-2b has no db pod


def test_consul_upstream_annotation_forms() -> None:
    from edgewise.routing.calls import _upstreams

    value = "postgres:5432, product-api.region:9090:dc1, api.svc.edge.ns.dc2.peer:80"
    assert list(_upstreams(value)) == ["postgres", "product-api.region", "api.edge"]


def test_transparent_proxy_off_and_no_sidecar_fall_back_to_kube_proxy(topo: Topology) -> None:
    off = dict(INJECT, **{"consul.hashicorp.com/transparent-proxy": "false"})
    docs = [
        deploy("api", "default", [LAX, LAS], annotations=INJECT, replicas=2),
        service("api", "default"),
        deploy("web", "default", [LAX], annotations=off),
        deploy("cli", "default", [LAX], annotations={"sidecar.istio.io/inject": "false"}),
        dr("api", "default", outlier=True, prio=["topology.kubernetes.io/zone"]),
    ]
    r = resolver(topo, *docs)
    web = r.resolve(Caller(LAX, "default", "web"), "api")
    # not Consul: the DestinationRule applies (web has no "no sidecar" marker)
    assert web.tiers[0].mechanism == "istio-locality"
    cli = r.resolve(Caller(LAX, "default", "cli"), "api")
    assert cli.tiers[0].mechanism == "kube-proxy" and zones_of(cli.tiers[0].endpoints) == {LAX, LAS}
    helm = {"global": {"name": "consul"}, "connectInject": {"transparentProxy": {"defaultEnabled": False}}}
    body = {"apiVersion": "edgewise.dev/input", "kind": "ConsulHelmValues", "metadata": {"name": "v"}, **helm}
    r2 = resolver(topo, body, *docs[:2], deploy("web", "default", [LAX], annotations=INJECT))
    assert r2.resolve(Caller(LAX, "default", "web"), "api").tiers[0].mechanism == "kube-proxy"
    assert r.resolve(Caller(LAX, "default", "cli"), "api").notes[-1].startswith("kube-proxy")
