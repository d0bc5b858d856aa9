"""Application plan: placement, the four routing backends, ingress, determinism."""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from edgewise.plan import labels as L
from edgewise.plan.apps import AppPlan, objects, objects_with_paths, plan_application
from edgewise.plan.apps.names import dns_label, zone_namespace
from edgewise.plan.artifacts import render_tree
from edgewise.plan.cluster import plan_cluster
from edgewise.spec import Application, ZoneType, load_spec
from edgewise.topology import Topology, build_topology

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parent / "data" / "apps"
EXAMPLES = ("local-zones-hashicups", "outposts", "wavelength")
BACKENDS = ("consul-enterprise", "consul", "istio", "kubernetes")


@cache
def example(name: str) -> tuple[Topology, Application]:
    spec = load_spec(ROOT / "examples" / name)
    return build_topology(spec), spec.applications[0][0]


def with_routing(app: Application, routing: str, **spec: Any) -> Application:
    data = app.model_dump(by_alias=True, mode="json", exclude_none=True)
    data["spec"]["routing"] = routing
    data["spec"].update(spec)
    return Application.model_validate(data)


@cache
def plan(ex: str, routing: str) -> AppPlan:
    topology, app = example(ex)
    return plan_application(topology, with_routing(app, routing))


def of_kind(objs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objs if o["kind"] == kind]


def workloads(objs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Deployments and StatefulSets (services with storage run as StatefulSets)."""
    return [o for o in objs if o["kind"] in ("Deployment", "StatefulSet")]


def walk_keys(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for k, v in node.items():
            yield k
            yield from walk_keys(v)
    elif isinstance(node, list):
        for v in node:
            yield from walk_keys(v)


def affinity_exprs(deploy: dict[str, Any]) -> list[dict[str, Any]]:
    terms = deploy["spec"]["template"]["spec"]["affinity"]["nodeAffinity"][
        "requiredDuringSchedulingIgnoredDuringExecution"
    ]["nodeSelectorTerms"]
    assert len(terms) == 1
    exprs: list[dict[str, Any]] = terms[0]["matchExpressions"]
    return exprs


def pinned_zones(topology: Topology, deploy: dict[str, Any]) -> set[str]:
    """Topology zones whose nodes satisfy the Deployment's required node affinity."""
    out = set()
    for z in topology.zones:
        node = {**L.node_labels(z), L.K8S_ZONE_LABEL: z.k8s_zone}
        if all(node.get(e["key"]) in e["values"] for e in affinity_exprs(deploy)):
            out.add(z.name)
    return out


# -- placement ---------------------------------------------------------------------------


@pytest.mark.parametrize("ex", EXAMPLES)
def test_every_copy_is_pinned_to_its_site(ex: str) -> None:
    topology, _app = example(ex)
    p = plan(ex, "consul-enterprise")
    region = {z.name for z in topology.region_zones}
    deploys = {
        (d["metadata"]["namespace"], d["metadata"]["name"]): d
        for d in workloads(objects(p))
    }
    for site in p.sites:
        for copy in site.services:
            d = deploys[(site.namespace, copy.workload)]
            zones = pinned_zones(topology, d)
            pod = d["spec"]["template"]["spec"]
            tolerated = {t["key"] for t in pod.get("tolerations", [])}
            if site.site == "region":
                assert zones == region
                # stateless Region copies serve every zone's failover: at least 2; a service
                # with storage runs as many pods as the spec says (each has its own volume)
                stateful = d["kind"] == "StatefulSet"
                assert copy.replicas >= 2 or (stateful and copy.replicas == d["spec"]["replicas"])
                spread = pod["topologySpreadConstraints"]
                assert spread[0]["topologyKey"] == L.K8S_ZONE_LABEL
                assert all(
                    c["nodeTaintsPolicy"] == "Honor" and c["nodeAffinityPolicy"] == "Honor"
                    for c in spread
                )
                assert L.EDGE_TAINT_KEY not in tolerated
            else:
                assert zones == {site.site}, f"{copy.workload} in {site.namespace} lands in {zones}"
                assert L.EDGE_TAINT_KEY in tolerated
            container = pod["containers"][0]
            assert container["readinessProbe"]
            assert container["resources"]["requests"]["cpu"]
    assert {s.site for s in p.sites} == {z.name for z in topology.edge_zones} | {"region"}


def test_outpost_copies_use_the_edgewise_zone_label_and_spread_across_hosts() -> None:
    p = plan("outposts", "kubernetes")
    d = next(
        o
        for o in objects(p)
        if o["kind"] == "Deployment"
        and o["metadata"]["namespace"] == "orders-outpost-1"
        and o["metadata"]["name"] == "web"
    )
    assert affinity_exprs(d) == [{"key": L.ZONE_LABEL, "operator": "In", "values": ["outpost-1"]}]
    spread = d["spec"]["template"]["spec"]["topologySpreadConstraints"]
    assert [c["topologyKey"] for c in spread] == ["kubernetes.io/hostname"]
    assert d["spec"]["replicas"] == 2


@pytest.mark.parametrize("ex", EXAMPLES)
def test_pdb_exactly_where_more_than_one_replica(ex: str) -> None:
    objs = objects(plan(ex, "kubernetes"))
    pdbs = {
        (o["metadata"]["namespace"], o["metadata"]["name"])
        for o in of_kind(objs, "PodDisruptionBudget")
    }
    multi = {
        (d["metadata"]["namespace"], d["metadata"]["name"])
        for d in workloads(objs)
        if d["spec"]["replicas"] > 1
    }
    assert pdbs == multi and multi


def test_replica_counts_follow_the_spec() -> None:
    _topology, app = example("outposts")
    p = plan("outposts", "kubernetes")
    web = next(s for s in app.spec.services if s.name == "web")
    assert p.site("outpost-1").services[0].replicas == web.replicas == 2
    db = next(s for s in app.spec.services if s.name == "orders-db")
    assert db.storage is not None and db.replicas == 1
    assert {c.service: c.replicas for c in p.site("region").services} == {"web": 2, "orders-db": db.replicas}


def test_long_names_are_trimmed_stably() -> None:
    long = "a" * 60 + "-b" * 10
    assert len(dns_label(long)) == 63
    assert dns_label(long) == dns_label(long)
    assert dns_label(long) != dns_label(long + "-c")
    topology, _ = example("wavelength")
    for z in topology.edge_zones:
        ns = zone_namespace("x" * 60, z)
        assert len(ns) <= 63 and ns.startswith("x")


# -- routing: the summary ------------------------------------------------------------------


@pytest.mark.parametrize("routing", BACKENDS)
@pytest.mark.parametrize("ex", EXAMPLES)
def test_edge_calls_stay_in_zone_or_go_to_the_region(ex: str, routing: str) -> None:
    p = plan(ex, routing)
    _, app = example(ex)
    svcs = {s.name: s for s in app.spec.services}
    for site in p.sites:
        for call in site.calls:
            assert call.target in (site.site, "region")
            assert call.failover in (None, "region")
            callee = svcs[call.callee]
            if site.site != "region" and callee.has_edge_copies:
                assert call.target == site.site and call.target_namespace == site.namespace
                wants = callee.effective_failover.value == "region" and callee.has_region_copy
                assert (call.failover == "region") == wants


def test_kubernetes_backend_fails_over_through_the_edgewise_controller() -> None:
    p = plan("wavelength", "kubernetes")
    assert any("edgewise controller" in n for n in p.notes)
    assert not any("edgewise controller" in n for n in plan("wavelength", "istio").notes)
    objs = objects(p)
    edge_ns = {s.namespace for s in p.sites if s.site != "region"}
    called = {c.callee for s in p.sites if s.site != "region" for c in s.calls if c.failover == "region"}
    assert called == {"backend"}
    for o in objs:
        if o["kind"] != "Service" or o["metadata"]["namespace"] not in edge_ns:
            continue
        ann = o["metadata"].get("annotations", {})
        name = o["metadata"]["name"]
        if name in called:
            # no selector: the controller owns the EndpointSlice
            assert "selector" not in o["spec"]
            assert ann["edgewise.dev/endpoints"] == "edge-failover"
            zone = next(s.site for s in p.sites if s.namespace == o["metadata"]["namespace"])
            assert ann["edgewise.dev/zone"] == zone
            sel = dict(x.split("=") for x in ann["edgewise.dev/endpoint-selector"].split(","))
            # the selector matches this service's pods in the zone AND in the Region
            pods = [d["spec"]["template"]["metadata"]["labels"] for d in objs
                    if d["kind"] == "Deployment" and d["metadata"]["name"] == name]
            assert len(pods) == len(p.sites)
            assert all(all(lbl.get(k) == v for k, v in sel.items()) for lbl in pods)
            assert o["spec"]["ports"][0]["targetPort"] == o["spec"]["ports"][0]["port"]
        else:
            assert "edgewise.dev/endpoints" not in ann
    # the frontend is exposed but nobody calls it: its Service keeps its selector (the ALB's)
    fronts = [o for o in objs if o["kind"] == "Service" and o["metadata"]["name"] == "frontend"]
    assert fronts and all(o["spec"].get("selector") for o in fronts)


# -- Consul Enterprise (seed 003) ---------------------------------------------------------


def test_local_zones_seed_resolvers() -> None:
    topology, app = example("local-zones-hashicups")
    assert app.spec.routing.value == "consul-enterprise"
    p = plan_application(topology, app)
    expected = [d for d in yaml.safe_load_all((DATA / "seed-003-resolvers.yaml").read_text()) if d]
    resolvers = of_kind(objects(p), "ServiceResolver")
    for z in topology.edge_zones:
        ns = zone_namespace("hashicups", z)
        got = {
            r["metadata"]["name"]: (r["apiVersion"], r["kind"], r["spec"])
            for r in resolvers
            if r["metadata"]["namespace"] == ns
        }
        for e in expected:
            assert got[e["metadata"]["name"]] == (e["apiVersion"], e["kind"], e["spec"])
        # beyond the seed: public-api fails over by default (edge-and-region, called by frontend);
        # frontend is called by nobody east-west, so it needs no resolver
        assert sorted(got) == ["postgres", "product-api", "public-api"]
    assert not [r for r in resolvers if r["metadata"]["namespace"] == "hashicups-region"]
    values = yaml.safe_load(render_tree(p.artifacts)["apps/hashicups/consul-values.yaml"])
    assert values["connectInject"]["consulNamespaces"] == {"mirroringK8S": True}
    assert values["global"]["enableConsulNamespaces"] is True


def upstreams(deploy: dict[str, Any]) -> list[str]:
    ann = deploy["spec"]["template"]["metadata"].get("annotations", {})
    raw = ann.get("consul.hashicorp.com/connect-service-upstreams", "")
    return [u.rsplit(":", 1)[0] for u in raw.split(",") if u]


def consul_service(deploy: dict[str, Any]) -> str:
    name: str = deploy["spec"]["template"]["metadata"]["annotations"][
        "consul.hashicorp.com/connect-service"
    ]
    return name


@pytest.mark.parametrize("routing", ["consul-enterprise", "consul"])
@pytest.mark.parametrize("ex", EXAMPLES)
def test_consul_targets_are_region_and_allowed_by_intentions(ex: str, routing: str) -> None:
    """Walk every upstream through its resolver (redirect / failover) and check the targets.

    Every target must be a Consul service that runs in the caller's own zone or in the
    Region, and every target must be allowed by an intention for that caller.
    """
    topology, _ = example(ex)
    p = plan(ex, routing)
    objs = objects(p)
    ent = routing == "consul-enterprise"
    # Consul service (name, consul namespace) -> the topology zones its pods run in
    where: dict[tuple[str, str], set[str]] = {}
    for d in workloads(objs):
        key = (consul_service(d), d["metadata"]["namespace"] if ent else "default")
        where.setdefault(key, set()).update(pinned_zones(topology, d))
    resolvers = {
        (r["metadata"]["name"], r["metadata"]["namespace"] if ent else "default"): r["spec"]
        for r in of_kind(objs, "ServiceResolver")
    }
    allowed = {
        (
            i["spec"]["destination"]["name"],
            i["metadata"]["namespace"] if ent else "default",
            s["name"],
            s.get("namespace", "default"),
        )
        for i in of_kind(objs, "ServiceIntentions")
        for s in i["spec"]["sources"]
        if s["action"] == "allow"
    }
    region = {z.name for z in topology.region_zones}
    checked = 0
    for d in workloads(objs):
        src_ns = d["metadata"]["namespace"] if ent else "default"
        caller_zones = pinned_zones(topology, d)
        for up in upstreams(d):
            spec = resolvers.get((up, src_ns), {})
            targets = []
            if "redirect" in spec:
                r = spec["redirect"]
                targets.append((r["service"], r.get("namespace", src_ns) if ent else "default"))
            else:
                targets.append((up, src_ns))
            if "failover" in spec:
                f = spec["failover"]["*"]
                targets.append((f["service"], f.get("namespace", src_ns) if ent else "default"))
                assert where[targets[-1]] == region, f"failover of {up} is not the Region copy"
            for t in targets:
                assert t in where, f"{consul_service(d)} -> {t}: no such service"
                assert where[t] <= caller_zones | region, (
                    f"{t} runs outside the caller's zone and Region"
                )
                assert (t[0], t[1], consul_service(d), src_ns) in allowed, f"no intention for {t}"
                checked += 1
    assert checked > 0


@pytest.mark.parametrize("ex", EXAMPLES)
def test_consul_ce_has_no_enterprise_fields_and_unique_names(ex: str) -> None:
    objs = objects(plan(ex, "consul"))
    mesh = [o for o in objs if o["apiVersion"].startswith("consul.hashicorp.com")]
    assert mesh
    for o in mesh:
        if o["kind"] in ("ServiceResolver", "ServiceIntentions"):
            bad = {"namespace", "partition", "samenessGroup", "peer"} & set(walk_keys(o["spec"]))
            assert not bad, f"{o['kind']} {o['metadata']['name']} uses {bad}"
    for kind in ("ServiceResolver", "ServiceDefaults", "ServiceIntentions"):
        names = [o["metadata"]["name"] for o in mesh if o["kind"] == kind]
        assert len(names) == len(set(names)), f"duplicate {kind} names across namespaces"
    values = yaml.safe_load(
        render_tree(plan(ex, "consul").artifacts)[
            f"apps/{example(ex)[1].metadata.name}/consul-values.yaml"
        ]
    )
    assert "consulNamespaces" not in values["connectInject"]


def test_consul_ce_per_zone_names() -> None:
    objs = objects(plan("local-zones-hashicups", "consul"))
    lax = "hashicups-lax-1a"
    res = {r["metadata"]["name"]: r for r in of_kind(objs, "ServiceResolver")}
    assert res["product-api-lax-1a"]["metadata"]["namespace"] == lax
    assert res["product-api-lax-1a"]["spec"] == {"failover": {"*": {"service": "product-api"}}}
    d = next(
        o
        for o in workloads(objs)
        if o["metadata"]["namespace"] == lax and o["metadata"]["name"] == "public-api"
    )
    assert consul_service(d) == "public-api-lax-1a"
    assert d["spec"]["template"]["spec"]["serviceAccountName"] == "public-api-lax-1a"
    assert upstreams(d) == ["product-api-lax-1a"]
    pa = next(
        o
        for o in workloads(objs)
        if o["metadata"]["namespace"] == lax and o["metadata"]["name"] == "product-api"
    )
    assert upstreams(pa) == ["postgres"]


def test_consul_passive_health_checks_everywhere() -> None:
    for routing in ("consul", "consul-enterprise"):
        objs = objects(plan("wavelength", routing))
        deploys = workloads(objs)
        defaults = {
            (o["metadata"]["namespace"], o["metadata"]["name"]): o["spec"]
            for o in of_kind(objs, "ServiceDefaults")
        }
        for d in deploys:
            spec = defaults[(d["metadata"]["namespace"], consul_service(d))]
            assert spec["upstreamConfig"]["defaults"]["passiveHealthCheck"]["maxFailures"] >= 1


# -- Istio -------------------------------------------------------------------------------


def selected_deployments(objs: list[dict[str, Any]], svc: dict[str, Any]) -> list[dict[str, Any]]:
    sel = svc["spec"]["selector"].items()
    return [
        d
        for d in workloads(objs)
        if d["metadata"]["namespace"] == svc["metadata"]["namespace"]
        and sel <= d["spec"]["template"]["metadata"]["labels"].items()
    ]


@pytest.mark.parametrize("ex", EXAMPLES)
def test_istio_hosts_hold_only_own_zone_and_region(ex: str) -> None:
    """One namespace; a zone's copy of a service is <svc>-<zone slug>, its Service holds the
    zone's pods and (failover) the Region copy, never another zone's; the zone's callers
    address that name; the Region's Service holds the Region copy only."""
    topology, app = example(ex)
    p = plan(ex, "istio")
    objs = objects(p)
    region = {z.name for z in topology.region_zones}
    (ns,) = of_kind(objs, "Namespace")
    assert ns["metadata"]["labels"]["istio-injection"] == "enabled"
    assert {s.namespace for s in p.sites} == {ns["metadata"]["name"]}
    assert {o["metadata"]["namespace"] for o in objs if o["kind"] != "Namespace"} == {ns["metadata"]["name"]}
    services = {o["metadata"]["name"]: o for o in of_kind(objs, "Service")}
    drs = {o["spec"]["host"]: o for o in of_kind(objs, "DestinationRule")}
    deploys = {d["metadata"]["name"]: d for d in workloads(objs)}
    by_name = {s.name: s for s in app.spec.services}
    failover_hosts = 0
    for site in p.sites:
        for copy in site.services:
            svc = services[copy.workload]  # the copy's host has the copy's name
            zones = set().union(*(pinned_zones(topology, d) for d in selected_deployments(objs, svc)))
            allowed = region if site.site == "region" else {site.site} | region
            assert zones and zones <= allowed, (site.site, copy.workload, zones)
            assert site.site == "region" or site.site in zones  # the zone's own pods are in it
            if site.site != "region":
                assert copy.workload == f"{copy.service}-{topology.zone(site.site).slug}"
            host = f"{copy.workload}.{site.namespace}.svc.cluster.local"
            if site.site != "region" and zones & region:
                failover_hosts += 1
                tp = drs[host]["spec"]["trafficPolicy"]
                label = L.ZONE_LABEL if site.kind == "outpost" else L.K8S_ZONE_LABEL
                assert tp["loadBalancer"]["localityLbSetting"] == {"enabled": True, "failoverPriority": [label]}
        for call in site.calls:
            caller = next(c for c in site.services if c.service == call.caller)
            called = deploys[caller.workload]["spec"]["template"]["metadata"]["annotations"]["edgewise.dev/calls"]
            want = (f"{call.callee}-{topology.zone(site.site).slug}"
                    if site.site != "region" and by_name[call.callee].has_edge_copies else call.callee)
            assert want in called.split(","), (site.site, call, called)
    wanted = {(s.site, c.callee) for s in p.sites for c in s.calls if c.failover}
    assert failover_hosts == len(wanted)
    for dr in of_kind(objs, "DestinationRule"):
        od = dr["spec"]["trafficPolicy"]["outlierDetection"]
        assert od["maxEjectionPercent"] == 100 and od["consecutive5xxErrors"] >= 1
        assert od["interval"] and od["baseEjectionTime"]
    assert not any(o["kind"] == "Service" and o["spec"]["type"] == "ExternalName" for o in objs)


@pytest.mark.parametrize("ex", EXAMPLES)
def test_istio_region_copy_is_sized_for_the_zones_it_backs(ex: str) -> None:
    """No standby pods: one Region copy per service, with replicas for one zone's load on
    top of the Region's own when some zone fails over to it, and a PDB."""
    topology, app = example(ex)
    objs = objects(plan(ex, "istio"))
    deploys = {d["metadata"]["name"]: d for d in workloads(objs)}
    pdbs = {o["metadata"]["name"]: o for o in of_kind(objs, "PodDisruptionBudget")}
    for svc in app.spec.services:
        copies = [d for d in deploys.values() if d["spec"]["template"]["metadata"]["labels"][
            "edgewise.dev/service"] == svc.name]
        in_region = [d for d in copies if pinned_zones(topology, d) <= {z.name for z in topology.region_zones}]
        assert len(in_region) == (1 if svc.has_region_copy else 0)
        assert len(copies) == len(in_region) + (len(topology.edge_zones) if svc.has_edge_copies else 0)
        if not in_region:
            continue
        (d,) = in_region
        serves = sorted(k for k in d["spec"]["template"]["metadata"]["labels"] if k.startswith("edgewise.dev/serves-"))
        own = svc.region_replicas or (svc.replicas if svc.storage else max(svc.replicas, 2))
        assert d["spec"]["replicas"] == own + (svc.replicas if serves else 0)
        if serves:  # it backs the hosts of these zones, and exactly these
            assert serves == sorted(f"edgewise.dev/serves-{z.slug}" for z in topology.edge_zones)
            assert pdbs[d["metadata"]["name"]]["spec"]["maxUnavailable"] == 1


def test_istio_ingress_targets_only_the_zone_copy() -> None:
    # web is exposed AND failing over in the Outposts example only if called; make it so
    topology, app = example("local-zones-hashicups")
    data = app.model_dump(by_alias=True, mode="json", exclude_none=True)
    data["spec"]["routing"] = "istio"
    data["spec"]["services"].append(
        {"name": "probe", "image": "busybox:1.36", "port": 8081, "calls": ["frontend"]}
    )
    p = plan_application(topology, Application.model_validate(data))
    objs = objects(p)
    ing = next(
        o for o in of_kind(objs, "Ingress")
        if o["metadata"]["annotations"]["alb.ingress.kubernetes.io/load-balancer-name"] == "hashicups-lax-1a"
    )
    (backend,) = [
        p["backend"]["service"]["name"]
        for p in ing["spec"]["rules"][0]["http"]["paths"]
        if p["path"] == "/"
    ]
    assert backend == "frontend-lax-1a-local"
    svc = next(o for o in of_kind(objs, "Service") if o["metadata"]["name"] == backend)
    assert {
        pinned for d in selected_deployments(objs, svc) for pinned in pinned_zones(topology, d)
    } == {"us-west-2-lax-1a"}
    # while the zone's host itself holds the Region copy too
    host = next(o for o in of_kind(objs, "Service") if o["metadata"]["name"] == "frontend-lax-1a")
    assert {pinned for d in selected_deployments(objs, host) for pinned in pinned_zones(topology, d)} == {
        "us-west-2-lax-1a", *(z.name for z in topology.region_zones)}


# -- kubernetes --------------------------------------------------------------------------


@pytest.mark.parametrize("ex", EXAMPLES)
def test_kubernetes_backend_aliases_region_only_services(ex: str) -> None:
    topology, app = example(ex)
    objs = objects(plan(ex, "kubernetes"))
    region_only = [s.name for s in app.spec.services if not s.has_edge_copies]
    for z in topology.edge_zones:
        ns = zone_namespace(app.metadata.name, z)
        for name in region_only:
            alias = next(
                o
                for o in of_kind(objs, "Service")
                if o["metadata"]["namespace"] == ns and o["metadata"]["name"] == name
            )
            assert alias["spec"]["type"] == "ExternalName"
            assert (
                alias["spec"]["externalName"]
                == f"{name}.{app.metadata.name}-region.svc.cluster.local"
            )
    for o in of_kind(objs, "Service"):
        assert "trafficDistribution" not in o["spec"]
        assert not any("topology" in k for k in o["metadata"].get("annotations", {}))


def test_hashicups_postgres_resolves_from_every_edge_namespace_in_kubernetes_backend() -> None:
    objs = objects(plan("local-zones-hashicups", "kubernetes"))
    aliases = {
        o["metadata"]["namespace"]: o["spec"]["externalName"]
        for o in of_kind(objs, "Service")
        if o["metadata"]["name"] == "postgres" and o["spec"]["type"] == "ExternalName"
    }
    assert aliases == {
        ns: "postgres.hashicups-region.svc.cluster.local"
        for ns in ("hashicups-lax-1a", "hashicups-las-1a", "hashicups-phx-2a")
    }


# -- north-south ---------------------------------------------------------------------------


@pytest.mark.parametrize("routing", BACKENDS)
@pytest.mark.parametrize("ex", EXAMPLES)
def test_one_alb_per_site_never_over_several_edge_zones(ex: str, routing: str) -> None:
    topology, _app = example(ex)
    p = plan(ex, routing)
    ingresses = of_kind(objects(p), "Ingress")
    exposed_sites = [s for s in p.sites if s.ingress_subnets]
    assert len(ingresses) == len(exposed_sites) == len(topology.edge_zones) + 1
    by_alb = {i["metadata"]["annotations"]["alb.ingress.kubernetes.io/load-balancer-name"]: i for i in ingresses}
    for s in exposed_sites:
        ing = by_alb[dns_label(f"{p.app}-{topology.zone(s.site).slug if s.site != 'region' else 'region'}", 32)]
        assert ing["metadata"]["namespace"] == s.namespace
        ann = ing["metadata"]["annotations"]
        assert ing["spec"]["ingressClassName"] == "alb"
        assert ann["alb.ingress.kubernetes.io/scheme"] == "internet-facing"
        assert ann["alb.ingress.kubernetes.io/target-type"] == "ip"
        subnets = [x.strip() for x in ann["alb.ingress.kubernetes.io/subnets"].split(",")]
        if s.site == "region":
            # the cluster plan's Name tags of the Region public subnets
            assert subnets == [f"{topology.name}-public-{az}" for az, _ in topology.public_subnets]
            assert len(subnets) >= 2
        elif topology.zone(s.site).kind is ZoneType.LOCAL:
            # a Local Zone's own subnet routes via NAT: the ALB goes into its public subnet
            assert subnets == [f"{topology.name}-public-{s.site}"]
        else:
            assert subnets == [f"{topology.name}-{topology.zone(s.site).slug}"]
        names = {
            o["metadata"]["name"]
            for o in objects(p)
            if o["kind"] == "Service" and o["metadata"]["namespace"] == s.namespace
        }
        for path in ing["spec"]["rules"][0]["http"]["paths"]:
            assert path["backend"]["service"]["name"] in names


def _network_subnets_by_name(topology: Topology) -> dict[str, tuple[str, dict[str, Any]]]:
    """Name tag -> (logical id, default route) of every subnet the cluster plan creates."""
    tree = render_tree(plan_cluster(topology, ()))
    net = yaml.safe_load(tree["cluster/network.cfn.yaml"])["Resources"]
    table_of = {
        r["Properties"]["SubnetId"]["Ref"]: r["Properties"]["RouteTableId"]["Ref"]
        for r in net.values()
        if r["Type"] == "AWS::EC2::SubnetRouteTableAssociation"
    }
    default = {
        r["Properties"]["RouteTableId"]["Ref"]: r["Properties"]
        for r in net.values()
        if r["Type"] == "AWS::EC2::Route" and r["Properties"]["DestinationCidrBlock"] == "0.0.0.0/0"
    }
    out = {}
    for lid, r in net.items():
        if r["Type"] == "AWS::EC2::Subnet":
            name = next(t["Value"] for t in r["Properties"]["Tags"] if t["Key"] == "Name")
            out[name] = (lid, default[table_of[lid]])
    return out


@pytest.mark.parametrize("ex", ["local-zones-hashicups", "wavelength"])
def test_every_alb_subnet_has_an_inbound_route_in_the_network_template(ex: str) -> None:
    """Each ALB subnet named by an Ingress is a subnet of cluster/network.cfn.yaml with a
    route from its users: the internet gateway (Region, Local Zone) or the carrier gateway."""
    topology, _app = example(ex)
    subnets = _network_subnets_by_name(topology)
    p = plan(ex, "consul-enterprise")
    for site in p.sites:
        assert site.ingress_subnets
        for name in site.ingress_subnets:
            _lid, route = subnets[name]
            zone = None if site.site == "region" else topology.zone(site.site)
            if zone is not None and zone.kind is ZoneType.WAVELENGTH:
                assert route["CarrierGatewayId"] == {"Ref": "CarrierGateway"}
            else:
                assert route["GatewayId"] == {"Ref": "InternetGateway"}, (site.site, name)
    lz_sites = [s for s in p.sites if s.kind == "local"]
    assert len(lz_sites) == (3 if ex == "local-zones-hashicups" else 0)
    for s in lz_sites:
        assert s.ingress_subnets == (f"{topology.name}-public-{s.site}",)


def test_local_zone_alb_note_names_the_public_subnets() -> None:
    (note,) = [n for n in plan("local-zones-hashicups", "istio").notes if n.startswith("ALB subnets")]
    assert "Local Zone: its public subnet <topology>-public-<zone>" in note
    assert "Wavelength" not in note and "Outpost" not in note
    assert not any("must be public" in n for n in plan("local-zones-hashicups", "istio").notes)


def test_existing_vpc_local_zone_alb_uses_the_given_subnet_and_says_it_must_be_public() -> None:
    topology = build_topology(load_spec(ROOT / "tests" / "data" / "cluster" / "existing-vpc.yaml"))
    _, app = example("local-zones-hashicups")
    p = plan_application(topology, app)
    (lz,) = topology.of_kind(ZoneType.LOCAL)
    (site,) = [s for s in p.sites if s.site == lz.name]
    assert site.ingress_subnets == (lz.subnet_id,)
    (note,) = [n for n in p.notes if "must be public" in n]
    assert f"{lz.name}: {lz.subnet_id}" in note and "route 0.0.0.0/0 to an internet gateway" in note
    assert any("customerOwnedIpv4Pool" in n for n in p.notes)  # Outposts without a pool: internal


def test_no_ingress_when_ingress_none() -> None:
    topology, app = example("wavelength")
    data = app.model_dump(by_alias=True, mode="json", exclude_none=True)
    data["spec"]["ingress"] = "none"
    for s in data["spec"]["services"]:
        s.pop("expose", None)
    p = plan_application(topology, Application.model_validate(data))
    assert not of_kind(objects(p), "Ingress")
    assert not any(a.path.endswith("dns.cfn.yaml") for a in p.artifacts)


# -- growth and determinism ---------------------------------------------------------------


def identities(p: AppPlan) -> set[tuple[str, str, str]]:
    return {
        (o["kind"], o["metadata"].get("namespace", ""), o["metadata"]["name"]) for o in objects(p)
    }


@pytest.mark.parametrize("routing", BACKENDS)
def test_adding_a_zone_adds_exactly_that_zones_objects(routing: str, tmp_path: Path) -> None:
    src = ROOT / "examples" / "local-zones-hashicups"
    topo = yaml.safe_load((src / "topology.yaml").read_text())
    topo["spec"]["zones"].append(
        {"name": "us-west-2-den-1a", "nodeGroup": {"instanceType": "c5d.2xlarge", "desired": 1}}
    )
    (tmp_path / "topology.yaml").write_text(yaml.safe_dump(topo))
    (tmp_path / "hashicups.yaml").write_text((src / "hashicups.yaml").read_text())
    spec = load_spec(tmp_path)
    bigger = plan_application(build_topology(spec), with_routing(spec.applications[0][0], routing))
    before, after = identities(plan("local-zones-hashicups", routing)), identities(bigger)
    assert before < after
    added = after - before
    if routing == "istio":  # one namespace: the zone's copies are named after it
        assert added and all(name.endswith("-den-1a") or name.endswith("-den-1a-local")
                             for _, _, name in added), added
        assert {ns for _, ns, _ in added} == {"hashicups"}
        return
    assert {ns for _, ns, _ in added} == {"hashicups-den-1a", ""}
    assert ("Namespace", "", "hashicups-den-1a") in added
    assert {ns for _, ns, _ in after if ns} - {ns for _, ns, _ in before if ns} == {
        "hashicups-den-1a"
    }


@pytest.mark.parametrize("routing", BACKENDS)
def test_deterministic(routing: str) -> None:
    topology, app = example("outposts")
    a = render_tree(plan_application(topology, with_routing(app, routing)).artifacts)
    b = render_tree(plan_application(topology, with_routing(app, routing)).artifacts)
    assert a == b
    assert all(path.startswith("apps/orders/") for path in a)


# -- odd shapes ------------------------------------------------------------------------------


def test_region_copy_calling_an_edge_only_service_has_no_target_and_says_so() -> None:
    topology, app = example("wavelength")
    data = app.model_dump(by_alias=True, mode="json", exclude_none=True)
    data["spec"]["routing"] = "consul"
    backend = next(s for s in data["spec"]["services"] if s["name"] == "backend")
    backend["placement"] = "edge"
    p = plan_application(topology, Application.model_validate(data))
    call = next(c for c in p.site("region").calls if c.callee == "backend")
    assert call.target is None and call.failover is None
    assert any("runs only in edge zones" in n for n in p.notes)
    edge_call = next(c for c in p.site("us-east-1-wl1-bos-wlz-1").calls if c.callee == "backend")
    assert edge_call.target == "us-east-1-wl1-bos-wlz-1" and edge_call.failover is None
    # the Region frontend has no upstream for it, and no resolver fails over to a missing copy
    objs = objects(p)
    region_fe = next(
        d
        for d in workloads(objs)
        if d["metadata"]["namespace"] == "two-tier-region" and d["metadata"]["name"] == "frontend"
    )
    assert upstreams(region_fe) == []
    assert not of_kind(objs, "ServiceResolver")


def test_node_group_taints_are_tolerated_where_the_copy_runs(tmp_path: Path) -> None:
    src = ROOT / "examples" / "wavelength"
    docs = list(yaml.safe_load_all((src / "topology.yaml").read_text()))
    zone = docs[0]["spec"]["zones"][2]
    zone["nodeGroup"]["taints"] = [{"key": "gpu", "value": "yes", "effect": "NoSchedule"}]
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump_all(docs))
    spec = load_spec(tmp_path / "spec.yaml")
    topology = build_topology(spec)
    objs = objects(plan_application(topology, spec.applications[0][0]))
    for d in workloads(objs):
        keys = {t["key"] for t in d["spec"]["template"]["spec"].get("tolerations", [])}
        in_gpu_zone = pinned_zones(topology, d) == {zone["name"]}
        assert ("gpu" in keys) == in_gpu_zone


def test_region_only_app_has_no_edge_namespaces() -> None:
    topology, app = example("local-zones-hashicups")
    data = app.model_dump(by_alias=True, mode="json", exclude_none=True)
    for s in data["spec"]["services"]:
        s["placement"] = "region"
        s.pop("failover", None)
    p = plan_application(topology, Application.model_validate(data))
    assert [s.site for s in p.sites] == ["region"]
    assert {o["metadata"].get("namespace", o["metadata"]["name"]) for o in objects(p)} == {
        "hashicups-region"
    }


# -- the plan summary agrees with the shared route resolver ----------------------------------


@pytest.mark.parametrize("routing", BACKENDS)
@pytest.mark.parametrize("ex", EXAMPLES)
def test_summary_matches_the_route_resolver(ex: str, routing: str) -> None:
    """What the plan says about each edge call is what check/simulate will compute."""
    inventory = pytest.importorskip("edgewise.k8s.inventory")
    resolver = pytest.importorskip("edgewise.routing.resolver")
    from edgewise.plan.apps import objects_with_paths

    topology, _ = example(ex)
    p = plan(ex, routing)
    inv = inventory.Inventory.from_objects(
        [(o, inventory.Source(path, 0, i)) for path, i, o in objects_with_paths(p)], topology
    )
    rr = resolver.RouteResolver(inv, topology)
    region = {z.name for z in topology.region_zones}
    deploys = {
        (d["metadata"]["namespace"], d["metadata"]["name"]): d
        for d in workloads(objects(p))
    }
    for site in p.sites:
        if site.site == "region":
            continue
        for call in site.calls:
            name = call.callee
            caller = call.caller
            via = "dns"
            if routing == "istio":  # the zone's copies are named after the zone
                caller = next(c.workload for c in site.services if c.service == call.caller)
                called = deploys[(site.namespace, caller)]["spec"]["template"]["metadata"]["annotations"]
                name = next(n for n in called["edgewise.dev/calls"].split(",")
                            if n == call.callee or n.startswith(call.callee + "-"))
            if routing.startswith("consul"):
                via = "consul"
                name = next(
                    u
                    for u in upstreams(deploys[(site.namespace, call.caller)])
                    if u == call.callee or u.startswith(call.callee + "-")
                )
            res = rr.resolve(resolver.Caller(site.site, site.namespace, caller), name, via=via)
            assert res.found, res.notes
            tiers = [{e.zone for e in t.endpoints} for t in res.tiers]
            reached = set().union(*tiers)
            if call.target == "region":
                # Istio may order Region AZs by locality; all tiers stay in the Region
                assert tiers[0] and reached <= region, res.notes
                continue
            assert tiers[0] == {call.target}, res.notes
            assert reached <= {site.site} | region, res.notes
            assert (call.failover == "region") == bool(reached & region), res.notes


def test_istio_refuses_a_service_named_like_a_zones_copy(tmp_path: Path) -> None:
    """One namespace: `api`'s copy in us-west-2-lax-1a is `api-lax-1a`, so a service of that
    name is refused at its own line by `validate` and by `plan` (exit 2, nothing written),
    and by plan_application for an Application that did not go through validation."""
    from click.testing import CliRunner

    from edgewise.cli import cli
    from edgewise.errors import InputError
    from edgewise.spec.loader import load_spec_documents

    src = ROOT / "tests" / "data" / "istio" / "spec"
    spec_dir = tmp_path / "spec"
    spec_dir.mkdir()
    (spec_dir / "topology.yaml").write_text((src / "topology.yaml").read_text())
    clash = "    - {name: api-lax-1a, image: nginx:1.27, port: 9091, placement: region}"
    app_text = (src / "app.yaml").read_text() + clash + "\n"
    (spec_dir / "app.yaml").write_text(app_text)
    line = app_text.splitlines().index(clash) + 1
    where = f"{spec_dir / 'app.yaml'}:{line}:"

    with pytest.raises(InputError) as err:
        load_spec(spec_dir)
    (problem,) = err.value.problems
    assert (problem.file, problem.line, problem.field) == (str(spec_dir / "app.yaml"), line, "spec.services[2].name")
    assert "the copy of service 'api' in zone us-west-2-lax-1a" in problem.message
    assert "rename service 'api-lax-1a'" in problem.hint

    # plan_application refuses it too, with the same problem, given the unvalidated document
    topo = build_topology(load_spec(src))
    ((app, doc),) = [(m, d) for m, d in load_spec_documents([spec_dir / "app.yaml"]) if isinstance(m, Application)]
    with pytest.raises(InputError) as err:
        plan_application(topo, app, doc)
    assert err.value.problems == [problem]
    # the other backends keep a namespace per zone: no clash
    assert plan_application(topo, with_routing(app, "kubernetes"))

    for args in (["validate", str(spec_dir)], ["plan", str(spec_dir), "-o", str(tmp_path / "out")]):
        res = CliRunner().invoke(cli, args)
        assert res.exit_code == 2, res.output
        assert f"{where}" in res.output and "spec.services[2].name" in res.output, res.output
        assert "error: 1 problem found" in res.output
        assert "Traceback" not in res.output
    assert not (tmp_path / "out").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["spec"]


@pytest.mark.parametrize("ex", EXAMPLES)
def test_istio_names_are_the_ones_spec_validation_keeps_apart(ex: str) -> None:
    """Spec validation refuses istio name clashes from a model of the names (spec.names); the
    plan's objects in the one namespace carry exactly those names: every Service one of
    them, every other object the name of its copy's Service."""
    from edgewise.spec.names import shared_namespace_names

    topology, app = example(ex)
    objs = objects(plan(ex, "istio"))
    model = {n.name for n in shared_namespace_names(
        with_routing(app, "istio").spec.services, [(z.name, z.slug) for z in topology.edge_zones])}
    named = [o for o in objs if o["kind"] in ("Deployment", "StatefulSet", "PodDisruptionBudget", "DestinationRule")]
    assert {o["metadata"]["name"] for o in of_kind(objs, "Service")} == model
    assert {o["metadata"]["name"] for o in named} <= model
    if ex == "local-zones-hashicups":  # exposed and called with failover: the -local Services are modelled
        assert any(n.endswith("-local") for n in model)


@pytest.mark.parametrize(
    ("extra", "clash"),
    [
        # the Region copy of a service named like api's zone copy
        ("{name: api-lax-1a, image: nginx:1.27, port: 9091, placement: region}",
         "the copy of service 'api' in zone us-west-2-lax-1a"),
        # a name that starts like a zone copy: api-lax's copies are api-lax-<slug>, none is api-lax-1a
        ("{name: api-lax, image: nginx:1.27, port: 9091, placement: edge}", None),
        # web is exposed and called with failover: its zone copy's ALB target is web-<slug>-local
        ("{name: web-las-1a-local, image: nginx:1.27, port: 9091, placement: region}",
         "the Service web-las-1a-local over the pods of service 'web' in zone us-west-2-las-1a"),
        # a name like a zone copy's, but api-lax-1a runs only at the edge: its copies are
        # api-lax-1a-<slug>, nothing meets
        ("{name: api-lax-1a, image: nginx:1.27, port: 9091, placement: edge}", None),
    ],
)
def test_istio_name_clashes(tmp_path: Path, extra: str, clash: str | None) -> None:
    """Which names meet once every copy shares a namespace, and that validate and plan agree."""
    from edgewise.errors import InputError

    src = ROOT / "tests" / "data" / "istio" / "spec"
    (tmp_path / "topology.yaml").write_text((src / "topology.yaml").read_text())
    app_text = (src / "app.yaml").read_text().replace(
        "calls: [api]}", "calls: [api], expose: {path: /}}").replace("ingress: none", "ingress: alb")
    # the caller of web that makes its zone copies fail over
    app_text += "    - {name: gw, image: nginx:1.27, port: 8000, calls: [web]}\n"
    (tmp_path / "app.yaml").write_text(app_text + f"    - {extra}\n")
    if clash is None:
        spec = load_spec(tmp_path)
        objs = objects(plan_application(build_topology(spec), spec.applications[0][0]))
        keys = [(o["kind"], o["metadata"].get("namespace"), o["metadata"]["name"]) for o in objs]
        assert len(keys) == len(set(keys))
        return
    with pytest.raises(InputError) as err:
        load_spec(tmp_path)
    (problem,) = err.value.problems
    assert problem.field == "spec.services[3].name" and clash in problem.message, problem.message
    # without the clashing service the plan has that very name, owned by the other service
    (tmp_path / "app.yaml").write_text(app_text)
    spec = load_spec(tmp_path)
    objs = objects(plan_application(build_topology(spec), spec.applications[0][0]))
    name = extra.split(",")[0].removeprefix("{name: ")
    assert name in {o["metadata"]["name"] for o in of_kind(objs, "Service")}


def test_istio_zone_copies_name_their_zones_callees_in_env(tmp_path: Path) -> None:
    """With one namespace a callee's plain name is the Region's Service: in a zone's copy,
    every host in an env value that names a callee (as check reads hosts) names the zone's
    copy instead; the Region copy, values that are not hosts, and other backends keep the
    spec's values. check then sees each of those calls land on the zone's copy (no EW307)."""
    from edgewise.check import check_objects
    from edgewise.check.model import CheckContext
    from edgewise.k8s.inventory import Inventory, Source

    src = ROOT / "tests" / "data" / "istio" / "spec"
    (tmp_path / "topology.yaml").write_text((src / "topology.yaml").read_text())
    env = {
        "API_URL": "http://api:9090",
        "API_ADDR": "api:9090",
        "API_HOST": "api",
        "API_DSN": "host=api port=9090 user=web",
        "API_FQDN": "http://user@api.shop.svc.cluster.local:9090/v1",
        "DB_NAME": "api",  # a database name, not a host
        "DATA_DIR": "/var/api/cache",  # a path
        "UPSTREAM": "http://api.example.com/x",  # a host outside the cluster
        "OTHER": "http://apiary:9090",  # another name
    }
    flow = ", ".join(f"{k}: {v!r}" for k, v in env.items())
    (tmp_path / "app.yaml").write_text((src / "app.yaml").read_text().replace(
        "calls: [api]}", f"calls: [api], env: {{{flow}}}}}"))
    spec = load_spec(tmp_path)
    topo = build_topology(spec)
    app = spec.applications[0][0]

    def env_of(p: AppPlan, name: str) -> dict[str, str]:
        (d,) = [o for o in objects(p) if o["kind"] == "Deployment" and o["metadata"]["name"] == name]
        return {e["name"]: e["value"] for e in d["spec"]["template"]["spec"]["containers"][0]["env"]}

    istio = plan_application(topo, app)
    renamed = {"API_URL", "API_ADDR", "API_HOST", "API_DSN", "API_FQDN"}
    for z in topo.edge_zones:
        got = env_of(istio, f"web-{z.slug}")
        copy = f"api-{z.slug}"
        assert {k: v for k, v in got.items() if k in renamed} == {
            k: env[k].replace("api", copy, 1) if k != "API_FQDN" else env[k].replace("@api.", f"@{copy}.")
            for k in renamed}
        assert {k: v for k, v in got.items() if k not in renamed} == {k: env[k] for k in env if k not in renamed}
    assert env_of(istio, "web") == env
    kube = [o for o in objects(plan_application(topo, with_routing(app, "kubernetes"))) if o["kind"] == "Deployment"
            and o["metadata"]["name"] == "web"]  # a namespace per zone: the plain name is the zone's
    assert len(kube) == len(topo.edge_zones) + 1
    assert all({e["name"]: e["value"] for e in d["spec"]["template"]["spec"]["containers"][0]["env"]} == env
               for d in kube)
    assert any("API_URL" in n and "zone's copy" in n for n in istio.notes)

    objs = [(d, Source(p, 0, i)) for p, i, d in objects_with_paths(istio)]
    assert check_objects(objs, topo, select=["EW307"]).findings == []
    ctx = CheckContext(inventory=Inventory.from_objects(objs, topo), topology=topo)
    lax = next(z for z in topo.edge_zones if z.slug == "lax-1a")
    # calls are inferred once per (caller, host): the annotation's api-lax-1a, the FQDN
    called = {(rc.call.name, rc.resolution.target) for rc in ctx.routed_calls if rc.call.workload == f"web-{lax.slug}"}
    assert {t for _, t in called} == {f"shop/api-{lax.slug}"}
    assert (f"http://user@api-{lax.slug}.shop.svc.cluster.local:9090/v1", f"shop/api-{lax.slug}") in called
