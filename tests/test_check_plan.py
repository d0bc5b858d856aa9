"""check on plan's own output (in memory) for the examples, and at cluster-export scale."""

from __future__ import annotations

import copy
import time
from pathlib import Path
from typing import Any

import pytest

from edgewise.check import CfnTemplate, Severity, check_objects
from edgewise.check.model import CheckContext
from edgewise.k8s.inventory import Inventory, Source
from edgewise.spec import EndpointAccess, ZoneType, load_spec
from edgewise.spec.models import NodeGroupSpec
from edgewise.topology import Topology, Zone, build_topology

ROOT = Path(__file__).resolve().parents[1]
plan_apps = pytest.importorskip("edgewise.plan.apps")
plan_cluster_mod = pytest.importorskip("edgewise.plan.cluster")


def planned(example: str) -> tuple[Topology, list[tuple[Any, Source]], Any, list[CfnTemplate]]:
    spec = load_spec(ROOT / "examples" / example)
    topo = build_topology(spec)
    objs: list[tuple[Any, Source]] = []
    for app, _ in spec.applications:
        plan = plan_apps.plan_application(topo, app)
        objs += [(d, Source(f"<plan>/{p}", 0, i)) for p, i, d in plan_apps.objects_with_paths(plan)]
    cfg, cfns = None, []
    names = [a.metadata.name for a, _ in spec.applications]
    for art in plan_cluster_mod.plan_cluster(topo, names):
        for i, d in enumerate(art.docs or ()):
            src = Source(f"<plan>/{art.path}", 0, i)
            if d.get("kind") == "ClusterConfig":
                cfg = d
            elif "Resources" in d:
                cfns.append(CfnTemplate(d, src))
            elif "kind" in d:
                objs.append((d, src))
    return topo, objs, cfg, cfns


@pytest.mark.parametrize(("example", "min_routes"), [("local-zones-hashicups", 9), ("wavelength", 1), ("outposts", 1)])
def test_plan_output_has_no_errors(example: str, min_routes: int) -> None:
    topo, objs, cfg, cfns = planned(example)
    report = check_objects(objs, topo, cfg, cfns)
    errors = [f"{f.rule} {f.object}: {f.message}" for f in report.findings if f.severity is Severity.ERROR]
    assert errors == []
    assert report.routes_verified >= min_routes


def test_plan_routes_are_verified_through_the_resolver() -> None:
    topo, objs, _, _ = planned("local-zones-hashicups")
    ctx = CheckContext(inventory=Inventory.from_objects(objs, topo), topology=topo)
    routed = ctx.routed_calls
    assert len(routed) >= 9  # three edge zones x three calls, plus the Region's
    for rc in routed:
        if topo.zone(rc.caller.zone).is_edge:
            eps = rc.resolution.endpoints
            assert eps and all(topo.reachable(rc.caller.zone, e.zone) for e in eps)


def _synthetic(n_edge: int) -> Topology:
    ng = NodeGroupSpec(instance_type="m5.large", desired=2)
    zones = [
        Zone(
            f"us-west-2{c}",
            ZoneType.AVAILABILITY_ZONE,
            i,
            "us-west-2",
            None,
            "us-west-2",
            "x",
            45.0,
            -119.0,
            True,
            None,
            None,
            ng,
            False,
        )
        for i, c in enumerate("ab")
    ]
    zones += [
        Zone(
            f"us-west-2-e{i}-1a",
            ZoneType.LOCAL,
            i + 2,
            "us-west-2",
            f"us-west-2-e{i}-1",
            f"us-west-2-e{i}-1",
            "x",
            40.0,
            -110.0,
            True,
            None,
            None,
            ng,
            False,
        )
        for i in range(n_edge)
    ]
    return Topology(
        "scale",
        "us-west-2",
        "x",
        45.0,
        -119.0,
        "1.31",
        EndpointAccess.PRIVATE,
        "10.0.0.0/8",
        None,
        tuple(zones),
        False,
        (),
    )


def test_scale_is_near_linear() -> None:
    # 100 zones x 40 services (8k objects, 8k calls): indexed lookups, no quadratic pass
    topo = _synthetic(100)
    objs: list[tuple[Any, Source]] = []
    for z in topo.zones:
        ns = "ns-" + z.name
        for s in range(40):
            env = [{"name": "NEXT", "value": f"http://svc{(s + 1) % 40}:80"}]
            pod = {
                "nodeSelector": {"topology.kubernetes.io/zone": z.name},
                "tolerations": [{"operator": "Exists"}],
                "containers": [{"name": "c", "image": "x", "env": env}],
            }
            objs.append(
                (
                    {
                        "apiVersion": "apps/v1",
                        "kind": "Deployment",
                        "metadata": {"name": f"svc{s}", "namespace": ns},
                        "spec": {
                            "replicas": 2,
                            "selector": {"matchLabels": {"app": f"svc{s}"}},
                            "template": {"metadata": {"labels": {"app": f"svc{s}"}}, "spec": pod},
                        },
                    },
                    Source("f", 1, len(objs)),
                )
            )
            objs.append(
                (
                    {
                        "apiVersion": "v1",
                        "kind": "Service",
                        "metadata": {"name": f"svc{s}", "namespace": ns},
                        "spec": {"selector": {"app": f"svc{s}"}},
                    },
                    Source("f", 1, len(objs)),
                )
            )
    start = time.perf_counter()
    findings = check_objects(objs, topo, select=["EW3"]).findings
    elapsed = time.perf_counter() - start
    assert elapsed < 20, f"{len(objs)} objects took {elapsed:.1f}s"
    # each zone's copy calls its own zone's copy: edge calls have no Region failover (EW305)
    assert {f.rule for f in findings} == {"EW305"}
    assert len(findings) == 100 * 40


def test_cross_stack_subnets_are_followed() -> None:
    # the WLZ node stack imports its subnets from the network stack (Fn::ImportValue);
    # break the volume type there and EW103 must see that the ASG is in a Wavelength Zone
    topo, objs, cfg, cfns = planned("wavelength")
    broken = []
    for t in cfns:
        body = copy.deepcopy(dict(t.body))
        for res in body["Resources"].values():
            if res["Type"] == "AWS::EC2::LaunchTemplate":
                for bdm in res["Properties"]["LaunchTemplateData"].get("BlockDeviceMappings", []):
                    bdm["Ebs"]["VolumeType"] = "gp3"
        broken.append(CfnTemplate(body, t.source))
    findings = check_objects(objs, topo, cluster_config=cfg, cfn_templates=broken, select=["EW103"]).findings
    assert len(findings) == 2  # one per Wavelength Zone node group


ALB_SUBNETS = "alb.ingress.kubernetes.io/subnets"


def _with_subnets(objs: list[tuple[Any, Source]], subnets: dict[str, str]) -> list[tuple[Any, Source]]:
    """The objects with the ALB subnets of the Ingresses in the given namespaces replaced."""
    out = []
    for d, src in objs:
        ns = d.get("metadata", {}).get("namespace")
        if d.get("kind") == "Ingress" and ns in subnets:
            d = copy.deepcopy(dict(d))
            d["metadata"]["annotations"][ALB_SUBNETS] = subnets[ns]
        out.append((d, src))
    return out


def test_local_zone_alb_in_the_nat_routed_zone_subnet_is_an_error() -> None:
    """EW405 on the plan's own network template: the old placement (the Local Zone's own
    subnet, 0.0.0.0/0 via a Region NAT gateway) is caught, the public subnet is not."""
    topo, objs, cfg, cfns = planned("local-zones-hashicups")
    assert check_objects(objs, topo, cfg, cfns, select=["EW405"]).findings == []
    lzs = topo.of_kind(ZoneType.LOCAL)
    old = {f"hashicups-{z.slug}": f"{topo.name}-{z.slug}" for z in lzs}
    findings = check_objects(_with_subnets(objs, old), topo, cfg, cfns, select=["EW405"]).findings
    assert len(findings) == len(lzs) == 3
    assert all(f.severity is Severity.ERROR and "NAT gateway" in f.message for f in findings)
    # without the network template there is nothing to judge
    assert check_objects(_with_subnets(objs, old), topo, cfg, [], select=["EW405"]).findings == []


def test_ingress_over_two_local_zone_public_subnets_spans_edge_zones() -> None:
    """EW402 follows subnet Name tags into the network template."""
    topo, objs, cfg, cfns = planned("local-zones-hashicups")
    lax, las = topo.of_kind(ZoneType.LOCAL)[:2]
    both = f"{topo.name}-public-{lax.name}, {topo.name}-public-{las.name}"
    spanning = _with_subnets(objs, {f"hashicups-{lax.slug}": both})
    findings = check_objects(spanning, topo, cfg, cfns, select=["EW402"]).findings
    assert len(findings) == 1 and lax.name in findings[0].message and las.name in findings[0].message
    assert check_objects(objs, topo, cfg, cfns, select=["EW402"]).findings == []


@pytest.mark.parametrize("routing", ["consul-enterprise", "consul", "istio", "kubernetes"])
def test_every_routing_backend_routes_edge_calls_only_to_reachable_zones(routing: str, tmp_path: Path) -> None:
    # the HashiCups example under each backend; the spec's calls are added as
    # edgewise.dev/calls where the generated objects carry no call evidence of their own
    src = ROOT / "examples" / "local-zones-hashicups"
    (tmp_path / "topology.yaml").write_text((src / "topology.yaml").read_text())
    app_text = (src / "hashicups.yaml").read_text()
    (tmp_path / "app.yaml").write_text(app_text.replace("routing: consul-enterprise", f"routing: {routing}"))
    spec = load_spec(tmp_path)
    topo = build_topology(spec)
    app = spec.applications[0][0]
    calls = {s.name: s.calls for s in app.spec.services}
    objs: list[tuple[Any, Source]] = []
    for p, i, d in plan_apps.objects_with_paths(plan_apps.plan_application(topo, app)):
        d = copy.deepcopy(dict(d))
        svc = d.get("metadata", {}).get("labels", {}).get("edgewise.dev/service")
        # Consul plans name their upstreams in annotations; the others need the hint
        if d["kind"] == "Deployment" and calls.get(svc) and not routing.startswith("consul"):
            ann = d["spec"]["template"]["metadata"].setdefault("annotations", {})
            ann.setdefault("edgewise.dev/calls", ",".join(calls[svc]))
        objs.append((d, Source(p, 0, i)))
    report = check_objects(objs, topo)
    assert [f.message for f in report.findings if f.severity is Severity.ERROR] == []
    assert report.routes_verified >= 9
    # every backend fails over (kubernetes: through the edgewise controller's endpoints)
    assert not [f for f in report.findings if f.rule == "EW305"]


@pytest.mark.parametrize("example", ["local-zones-hashicups", "outposts", "wavelength"])
def test_plan_output_checks_clean_without_the_topology(example: str, tmp_path: Path) -> None:
    """Without --topology, check infers the zones from the manifests; nodes of such a
    cluster are not assumed tainted, but the edgewise.dev labels the manifests ask for
    are assumed (the Region copies are pinned by them): no errors on edgewise's own plan."""
    from conftest import EXAMPLES_DIR
    from edgewise.check import check_paths
    from edgewise.workflow import run_plan

    out = tmp_path / "plan"
    run_plan([EXAMPLES_DIR / example], out, with_simulation=False)
    report = check_paths([out], None)
    assert report.topology is not None, "the zones are inferred from the manifests"
    errors = [f for f in report.findings if f.severity is Severity.ERROR]
    assert errors == [], errors


def test_istio_shared_namespace_hazards_are_caught_on_the_generated_plan() -> None:
    """The istio backend's one namespace: the generated plan checks clean; the Region copy
    losing a zone's serves-label takes that zone's failover away (EW305), a zone's copy
    labelled for one zone but pinned to another is EW202, and a zone's caller that calls
    another zone's host is EW301."""
    spec = load_spec(ROOT / "tests" / "data" / "istio" / "spec")
    topo = build_topology(spec)
    plan = plan_apps.plan_application(topo, spec.applications[0][0])
    base = [(copy.deepcopy(dict(d)), Source(p, 0, i)) for p, i, d in plan_apps.objects_with_paths(plan)]
    lax, las = (z for z in topo.edge_zones if z.slug in ("lax-1a", "las-1a"))

    def rules(objs: list[tuple[Any, Source]]) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for f in check_objects(objs, topo).findings:
            out.setdefault(f.rule, []).append(f.object)
        return out

    def edited(kind: str, name: str, edit: Any) -> list[tuple[Any, Source]]:
        objs = copy.deepcopy(base)
        (o,) = [o for o, _ in objs if o["kind"] == kind and o["metadata"]["name"] == name]
        edit(o)
        return objs

    clean = rules(base)
    assert not {"EW202", "EW301", "EW305"} & set(clean)
    no_failover = rules(edited("Deployment", "api", lambda o: o["spec"]["template"]["metadata"]["labels"].pop(
        f"edgewise.dev/serves-{lax.slug}")))
    assert no_failover["EW305"] == [f"Deployment shop/web-{lax.slug}"]

    def pin_to_las(o: dict[str, Any]) -> None:
        o["spec"]["template"]["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][
            "nodeSelectorTerms"][0]["matchExpressions"][0]["values"] = [las.name]
    assert rules(edited("Deployment", f"api-{lax.slug}", pin_to_las))["EW202"] == [f"Deployment shop/api-{lax.slug}"]
    other_host = rules(edited("Deployment", f"web-{lax.slug}", lambda o: o["spec"]["template"]["metadata"][
        "annotations"].update({"edgewise.dev/calls": f"api-{las.slug}"})))
    assert other_host["EW301"] == [f"Deployment shop/web-{lax.slug}"]
    assert "EW307" not in clean and "EW307" not in other_host


def test_istio_zone_caller_of_the_region_service_is_caught_on_the_generated_plan() -> None:
    """EW307 on the generated istio plan: lax's web calling `api` (the Region's Service)
    instead of its zone's `api-lax-1a` is named, with the name to call; as generated, or
    calling the copy by its FQDN, it is not; a Region caller of `api` is not either."""
    spec = load_spec(ROOT / "tests" / "data" / "istio" / "spec")
    topo = build_topology(spec)
    plan = plan_apps.plan_application(topo, spec.applications[0][0])
    base = [(copy.deepcopy(dict(d)), Source(p, 0, i)) for p, i, d in plan_apps.objects_with_paths(plan)]
    lax = next(z for z in topo.edge_zones if z.slug == "lax-1a")

    def ew307(calls: str, workload: str = f"web-{lax.slug}") -> list[str]:
        objs = copy.deepcopy(base)
        (o,) = [o for o, _ in objs if o["kind"] == "Deployment" and o["metadata"]["name"] == workload]
        o["spec"]["template"]["metadata"]["annotations"]["edgewise.dev/calls"] = calls
        return [f.message for f in check_objects(objs, topo, select=["EW307"]).findings]

    assert check_objects(base, topo, select=["EW307"]).findings == []
    (msg,) = ew307("api")
    assert msg.startswith(f"Deployment shop/web-{lax.slug} in {lax.name} calls 'api'")
    assert "the Region's Service shop/api" in msg and msg.endswith(f"call 'api-{lax.slug}' instead")
    (msg,) = ew307("api.shop.svc.cluster.local")
    assert msg.endswith(f"call 'api-{lax.slug}.shop.svc.cluster.local' instead")
    assert ew307(f"api-{lax.slug}.shop.svc.cluster.local") == []
    assert ew307("api", workload="web") == []  # the Region's own web calls the Region's api


@pytest.mark.parametrize("example", ["local-zones-hashicups", "outposts", "wavelength"])
@pytest.mark.parametrize("routing", ["consul-enterprise", "consul", "istio", "kubernetes"])
def test_generated_plans_call_their_zones_copies(example: str, routing: str) -> None:
    """EW307 stays silent on every example's plan under every backend: the generator names
    the zone's copy wherever the zone has one."""
    spec = load_spec(ROOT / "examples" / example)
    topo = build_topology(spec)
    objs: list[tuple[Any, Source]] = []
    for app, _ in spec.applications:
        data = app.model_dump(by_alias=True, mode="json", exclude_none=True)
        data["spec"]["routing"] = routing
        plan = plan_apps.plan_application(topo, type(app).model_validate(data))
        objs += [(d, Source(p, 0, i)) for p, i, d in plan_apps.objects_with_paths(plan)]
    report = check_objects(objs, topo, select=["EW307"])
    assert report.findings == []
    assert report.routes_verified >= 1
