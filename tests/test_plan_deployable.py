"""Generated plans that a real deploy accepts: pod security, Secrets, storage, ALBs, DNS, mesh install."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from edgewise.plan.apps import AppPlan, objects, plan_application
from edgewise.plan.apps.install import CONSUL_CHART_VERSION, ISTIO_VERSION, install_steps
from edgewise.plan.artifacts import render_tree
from edgewise.plan.cluster.addons import STORAGE_CLASS_NAME
from edgewise.plan.cluster.runbook import runbook_text
from edgewise.spec import Application, load_spec
from edgewise.spec.credentials import looks_like_credential
from edgewise.topology import Topology, build_topology

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ("local-zones-hashicups", "outposts", "wavelength")
BACKENDS = ("consul-enterprise", "consul", "istio", "kubernetes")
POD_KINDS = ("Deployment", "StatefulSet")


@cache
def example(name: str) -> tuple[Topology, Application]:
    spec = load_spec(ROOT / "examples" / name)
    return build_topology(spec), spec.applications[0][0]


def variant(name: str, **changes: Any) -> Application:
    _, app = example(name)
    data = app.model_dump(by_alias=True, mode="json", exclude_none=True)
    data["spec"].update(changes)
    return Application.model_validate(data)


@cache
def plan(name: str, routing: str) -> AppPlan:
    topology, _ = example(name)
    return plan_application(topology, variant(name, routing=routing))


def pods(objs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [o for o in objs if o["kind"] in POD_KINDS]


# -- pod security (issue 18 part 5) ---------------------------------------------------------


@pytest.mark.parametrize("routing", BACKENDS)
@pytest.mark.parametrize("ex", EXAMPLES)
def test_every_pod_is_restricted_unless_the_spec_says_otherwise(ex: str, routing: str) -> None:
    _, app = example(ex)
    by_name = {s.name: s for s in app.spec.services}
    workloads = pods(objects(plan(ex, routing)))
    assert workloads
    for w in workloads:
        svc = by_name[w["metadata"]["labels"]["edgewise.dev/service"]]
        pod = w["spec"]["template"]["spec"]
        ctx = pod["securityContext"]
        assert ctx["seccompProfile"] == {"type": "RuntimeDefault"}
        assert ctx["runAsNonRoot"] is (svc.security_context.run_as_user != 0)
        if svc.security_context.run_as_user is not None:
            assert ctx["runAsUser"] == svc.security_context.run_as_user
        # the token only where something calls the API: the Consul sidecar logs in with it
        assert pod["automountServiceAccountToken"] is routing.startswith("consul")
        for c in pod["containers"]:
            sc = c["securityContext"]
            assert sc["allowPrivilegeEscalation"] is False
            assert sc["capabilities"]["drop"] == ["ALL"]
            assert sc["capabilities"].get("add", []) == sorted(svc.security_context.add_capabilities)
            assert c["resources"]["limits"]["memory"]


def test_memory_limit_defaults_to_twice_the_request_and_can_be_set() -> None:
    topology, _ = example("wavelength")
    app = variant("wavelength")
    data = app.model_dump(by_alias=True, mode="json", exclude_none=True)
    data["spec"]["services"][0]["resources"] = {"memory": "300Mi"}
    data["spec"]["services"][1]["resources"] = {"memory": "100Mi", "memoryLimit": "1Gi"}
    objs = objects(plan_application(topology, Application.model_validate(data)))
    limits = {
        w["metadata"]["name"]: w["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["memory"]
        for w in pods(objs)
    }
    assert limits["frontend"] == "600Mi" and limits["backend"] == "1Gi"


def test_api_access_mounts_the_token() -> None:
    topology, _ = example("wavelength")
    data = variant("wavelength").model_dump(by_alias=True, mode="json", exclude_none=True)
    data["spec"]["services"][1]["securityContext"] = {"apiAccess": True}
    objs = objects(plan_application(topology, Application.model_validate(data)))
    mounted = {w["metadata"]["name"]: w["spec"]["template"]["spec"]["automountServiceAccountToken"] for w in pods(objs)}
    assert mounted == {"frontend": False, "backend": True}


# -- env from Secrets, credential warnings ------------------------------------------------


def test_env_value_from_a_secret_is_a_secret_key_ref_and_the_runbook_creates_it() -> None:
    topology, app = example("local-zones-hashicups")
    p = plan_application(topology, app)
    objs = objects(p)
    db = next(w for w in pods(objs) if w["metadata"]["name"] == "postgres")
    env = {e["name"]: e for e in db["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["POSTGRES_PASSWORD"] == {
        "name": "POSTGRES_PASSWORD",
        "valueFrom": {"secretKeyRef": {"name": "postgres", "key": "password"}},
    }
    assert not any("WARNING" in n for n in p.notes)
    steps = install_steps(topology, [(app, p)])
    (secrets,) = [s for s in steps if s.title.startswith("Create the Secrets")]
    # the Secret exists in every namespace whose pods reference it, and only there
    users = {w["metadata"]["namespace"] for w in pods(objs)
             if any("valueFrom" in e for e in w["spec"]["template"]["spec"]["containers"][0].get("env", []))}
    created = {c.split()[2] for c in secrets.commands if " create secret generic postgres " in c}
    assert created == users and len(users) == 4


def test_literal_credential_gets_a_warning() -> None:
    topology, _ = example("wavelength")
    data = variant("wavelength").model_dump(by_alias=True, mode="json", exclude_none=True)
    data["spec"]["services"][1]["env"] = {"DB_PASSWORD": "hunter2", "LOG_LEVEL": "debug"}
    p = plan_application(topology, Application.model_validate(data))
    warnings = [n for n in p.notes if n.startswith("WARNING")]
    assert len(warnings) == 1 and "DB_PASSWORD" in warnings[0]


@pytest.mark.parametrize(
    ("name", "value", "flagged"),
    [
        ("DB_PASSWORD", "hunter2", True),
        ("API_KEY", "abc", True),
        ("DATABASE_URL", "postgres://app:s3cret@db:5432/app", True),
        ("DB_CONNECTION", "host=db user=x password=y", True),
        ("CLOUD", "AKIAABCDEFGHIJKLMNOP", True),
        ("DB_PASSWORD", "", False),
        ("DB_PASSWORD", "$(FROM_SECRET)", False),
        ("DATABASE_URL", "postgres://db:5432/app", False),
        ("PASSWORD_MIN_LENGTH_HINT", "", False),
        ("LOG_LEVEL", "debug", False),
    ],
)
def test_credential_detection(name: str, value: str, flagged: bool) -> None:
    assert (looks_like_credential(name, value) is not None) is flagged


# -- stateful Region services (issue 11 item 7) ----------------------------------------------


@pytest.mark.parametrize("ex", ["local-zones-hashicups", "outposts"])
def test_a_service_with_storage_is_a_statefulset_with_a_claim(ex: str) -> None:
    _, app = example(ex)
    (svc,) = [s for s in app.spec.services if s.storage is not None]
    objs = objects(plan(ex, "istio"))
    sts = [o for o in objs if o["kind"] == "StatefulSet"]
    assert [s["metadata"]["name"] for s in sts] == [svc.name]
    assert not [o for o in objs if o["kind"] == "Deployment" and o["metadata"]["name"] == svc.name]
    (claim,) = sts[0]["spec"]["volumeClaimTemplates"]
    assert claim["spec"]["storageClassName"] == STORAGE_CLASS_NAME
    assert claim["spec"]["resources"]["requests"]["storage"] == svc.storage.size
    mounts = sts[0]["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]
    assert mounts == [{"name": claim["metadata"]["name"], "mountPath": svc.storage.mount_path}]
    assert sts[0]["spec"]["replicas"] == svc.replicas
    # the StorageClass the claim names is one the cluster plan creates, and gp2 (valid in
    # every zone type: Wavelength Zones and Outposts offer only gp2)
    from edgewise.plan.cluster.addons import gp2_storage_class

    assert gp2_storage_class()["metadata"]["name"] == STORAGE_CLASS_NAME
    assert gp2_storage_class()["parameters"]["type"] == "gp2"


# -- ingress: Outposts, TLS --------------------------------------------------------------


def ingresses(p: AppPlan) -> dict[str, dict[str, Any]]:
    """Each site's Ingress by its ALB's name (``<app>-<zone slug>``, ``<app>-region``)."""
    return {o["metadata"]["annotations"]["alb.ingress.kubernetes.io/load-balancer-name"]: o
            for o in objects(p) if o["kind"] == "Ingress"}


def test_outpost_alb_is_internal_without_a_pool_and_uses_the_pool_when_given() -> None:
    spec = load_spec(ROOT / "examples" / "outposts")
    with_pool = build_topology(spec)
    _, app = example("outposts")
    ann = {ns: i["metadata"]["annotations"] for ns, i in ingresses(plan_application(with_pool, app)).items()}
    for z in with_pool.zones:
        if z.coip_pool:
            a = ann[f"orders-{z.slug}"]
            assert a["alb.ingress.kubernetes.io/scheme"] == "internet-facing"
            assert a["alb.ingress.kubernetes.io/customer-owned-ipv4-pool"] == z.coip_pool
    data = spec.topology.model_dump(by_alias=True, mode="json", exclude_none=True)
    for z in data["spec"]["zones"]:
        z.pop("customerOwnedIpv4Pool", None)
    from edgewise.spec.models import Topology as TopologyDoc

    bare = build_topology(type(spec)(topology=TopologyDoc.model_validate(data), topology_doc=spec.topology_doc,
                                     applications=spec.applications))
    p = plan_application(bare, app)
    for ns, ing in ingresses(p).items():
        a = ing["metadata"]["annotations"]
        expect = "internal" if ns.startswith("orders-outpost") else "internet-facing"
        assert a["alb.ingress.kubernetes.io/scheme"] == expect
        assert "alb.ingress.kubernetes.io/customer-owned-ipv4-pool" not in a
    cfn = yaml.safe_load(render_tree(p.artifacts)["apps/orders/dns.cfn.yaml"])
    names = {r["Properties"]["SetIdentifier"] for r in cfn["Resources"].values()}
    assert names == {"region"}  # internal ALBs are in no public record


def test_tls_certificate_and_redirect_on_internet_facing_albs() -> None:
    topology, _ = example("wavelength")
    arn = "arn:aws:acm:us-east-1:111122223333:certificate/0a1b2c3d-0a1b-0a1b-0a1b-0a1b2c3d4e5f"
    p = plan_application(topology, variant("wavelength", tls={"certificateArn": arn}))
    for ing in ingresses(p).values():
        a = ing["metadata"]["annotations"]
        assert a["alb.ingress.kubernetes.io/certificate-arn"] == arn
        assert a["alb.ingress.kubernetes.io/ssl-redirect"] == "443"
        assert yaml.safe_load(a["alb.ingress.kubernetes.io/listen-ports"]) == [{"HTTP": 80}, {"HTTPS": 443}]
    by_host = plan_application(topology, variant("wavelength", tls={"host": "shop.example.com"}))
    for ing in ingresses(by_host).values():
        assert "alb.ingress.kubernetes.io/certificate-arn" not in ing["metadata"]["annotations"]
        assert ing["spec"]["tls"] == [{"hosts": ["shop.example.com"]}]
        assert ing["spec"]["rules"][0]["host"] == "shop.example.com"
    assert not any("plain HTTP" in n for n in p.notes)
    assert any("plain HTTP" in n for n in plan("wavelength", "kubernetes").notes)


# -- Route 53 (issue 11 item 2) -------------------------------------------------------------


def dns(topology: Topology, app: Application) -> dict[str, Any]:
    p = plan_application(topology, app)
    return yaml.safe_load(render_tree(p.artifacts)[f"apps/{app.metadata.name}/dns.cfn.yaml"])


@pytest.mark.parametrize("policy", ["geoproximity", "weighted", "failover"])
def test_wavelength_albs_never_serve_the_internet_name(policy: str) -> None:
    topology, _ = example("wavelength")
    cfn = dns(topology, variant("wavelength", dns=policy, domain="shop.example.com"))
    res = cfn["Resources"]
    internet = [r for r in res.values() if r["Properties"]["Name"] == {"Ref": "RecordName"}]
    wl = {z.name for z in topology.zones if z.kind.value == "wavelength"}
    assert internet and not any(r["Properties"].get("SetIdentifier") in wl for r in internet)
    carrier = {k: r for k, r in res.items() if k.startswith("CarrierRecord")}
    assert len(carrier) == len(wl)
    targets = {r["Properties"]["AliasTarget"]["DNSName"]["Ref"] for r in carrier.values()}
    internet_targets = {r["Properties"]["AliasTarget"]["DNSName"].get("Ref") for r in internet}
    assert not targets & internet_targets
    defaults = {cfn["Parameters"][r["Properties"]["Name"]["Ref"]]["Default"] for r in carrier.values()}
    assert len(defaults) == len(wl) and all(d.endswith(".carrier.shop.example.com") for d in defaults)


def test_local_zone_geoproximity_records_key_on_the_zone_group() -> None:
    topology, app = example("local-zones-hashicups")
    cfn = dns(topology, app)
    props = [r["Properties"] for r in cfn["Resources"].values()]
    locs = {p["SetIdentifier"]: p["GeoProximityLocation"] for p in props}
    assert locs.pop("region") == {"AWSRegion": topology.region}
    groups = {z.name: z.group for z in topology.edge_zones}
    assert locs == {zone: {"LocalZoneGroup": groups[zone]} for zone in groups}
    assert all(r["Properties"]["AliasTarget"]["EvaluateTargetHealth"] for r in cfn["Resources"].values())
    assert len({str(v) for v in locs.values()}) == len(locs)  # one record per location


def test_failover_primary_is_the_edge_set_secondary_the_region() -> None:
    topology, _ = example("local-zones-hashicups")
    res = dns(topology, variant("local-zones-hashicups", dns="failover"))["Resources"]
    assert res["RecordPrimary"]["Properties"]["Failover"] == "PRIMARY"
    assert res["RecordSecondary"]["Properties"]["Failover"] == "SECONDARY"
    assert res["RecordSecondary"]["Properties"]["AliasTarget"]["DNSName"] == {"Ref": "AlbDnsNameRegion"}
    edge = [r for k, r in res.items() if k.startswith("EdgeRecord")]
    assert len(edge) == len(topology.edge_zones)
    assert all(r["Properties"]["Name"] == res["RecordPrimary"]["Properties"]["AliasTarget"]["DNSName"] for r in edge)


# -- mesh install in the RUNBOOK (issue 11 item 3) ---------------------------------------------


def runbook(ex: str, routing: str) -> str:
    topology, _ = example(ex)
    app = variant(ex, routing=routing)
    p = plan_application(topology, app)
    return runbook_text(topology, [app.metadata.name], install_steps(topology, [(app, p)]))


@pytest.mark.parametrize("routing", ["consul", "consul-enterprise"])
def test_runbook_installs_consul_before_the_apps(routing: str) -> None:
    text = runbook("local-zones-hashicups", routing)
    install = text.index(f"--version {CONSUL_CHART_VERSION}")
    crds = text.index("kubectl wait --for=condition=Established")
    verify = text.index("rollout status statefulset/consul-server")
    apply = text.index("kubectl apply -k apps/hashicups")
    assert install < crds < verify < apply
    has_licence = "create secret generic consul-ent-license" in text
    assert has_licence is (routing == "consul-enterprise")
    if has_licence:
        assert text.index("consul-ent-license") < install


def test_runbook_installs_istio_base_then_istiod_pinned() -> None:
    text = runbook("outposts", "istio")
    base = text.index("helm upgrade --install istio-base base")
    crds = text.index("crd/destinationrules.networking.istio.io")
    istiod = text.index("helm upgrade --install istiod istiod")
    assert base < crds < istiod < text.index("kubectl apply -k apps/orders")
    assert text.count(f"--version {ISTIO_VERSION}") == 2


def test_no_mesh_install_for_the_kubernetes_backend() -> None:
    text = runbook("wavelength", "kubernetes")
    assert "helm upgrade --install consul" not in text and "istiod" not in text


@pytest.mark.parametrize("routing", ["consul", "consul-enterprise"])
def test_consul_values_are_secure_by_default(routing: str) -> None:
    p = plan("local-zones-hashicups", routing)
    values = yaml.safe_load(render_tree(p.artifacts)["apps/hashicups/consul-values.yaml"])
    g = values["global"]
    assert g["acls"]["manageSystemACLs"] is True
    assert g["tls"]["enabled"] is True and g["tls"]["verify"] is True
    assert g["gossipEncryption"]["autoGenerate"] is True
    assert values["server"]["storageClass"] == STORAGE_CLASS_NAME
    assert g["image"].endswith("-ent") is (routing == "consul-enterprise")


# -- check catches the same mistakes in users' configs -----------------------------------------


def _check_text(tmp_path: Path, text: str, select: list[str]) -> list[str]:
    from edgewise.check import check_paths

    f = tmp_path / "m.yaml"
    f.write_text(text, encoding="utf-8")
    return [x.rule for x in check_paths([f], None, select=select).findings]


def test_ew405_flags_an_internet_facing_outpost_alb_without_a_pool(tmp_path: Path) -> None:
    """The generated network stack and Ingress of the Outposts example, with and without the pool."""
    from edgewise.check import check_paths

    spec = load_spec(ROOT / "examples" / "outposts")
    out = tmp_path / "plan"
    from edgewise.workflow import run_plan

    run_plan([ROOT / "examples" / "outposts"], out, with_simulation=False)
    report = check_paths([out], build_topology(spec), select=["EW405"])
    assert report.findings == []
    # drop the pool annotation from one Outpost Ingress: the same ALB is now unreachable
    ing = out / "apps" / "orders" / "orders-outpost-1" / "ingress.yaml"
    text = ing.read_text(encoding="utf-8")
    assert "customer-owned-ipv4-pool" in text
    ing.write_text(
        "\n".join(line for line in text.splitlines() if "customer-owned-ipv4-pool" not in line) + "\n",
        encoding="utf-8",
    )
    report = check_paths([out], build_topology(spec), select=["EW405"])
    assert [(f.rule, f.file.endswith("orders-outpost-1/ingress.yaml")) for f in report.findings] == [("EW405", True)]


@pytest.mark.parametrize("ex", EXAMPLES)
def test_generated_pods_pass_the_pod_rules(ex: str, tmp_path: Path) -> None:
    from edgewise.check import check_paths
    from edgewise.workflow import run_plan

    out = tmp_path / "plan"
    run_plan([ROOT / "examples" / ex], out, with_simulation=False)
    report = check_paths([out / "apps"], None, select=["EW251", "EW252", "EW253", "EW254", "EW452", "EW508"])
    assert [f.message for f in report.findings] == []
    # and the TLS rule fires exactly where the generator says HTTP only (no spec.tls)
    tls = check_paths([out / "apps"], None, select=["EW451"]).findings
    _, app = example(ex)
    assert bool(tls) is (app.spec.tls is None)


@pytest.mark.parametrize("ex", ["wavelength", "outposts"])
@pytest.mark.parametrize("policy", ["geoproximity", "weighted", "failover"])
def test_dns_templates_with_carrier_names_and_coordinates_pass_cfn_lint(ex: str, policy: str) -> None:
    from cfnlint.api import lint

    topology, app = example(ex)
    p = plan_application(topology, variant(ex, dns=policy, domain="shop.example.com"))
    text = render_tree(p.artifacts)[f"apps/{app.metadata.name}/dns.cfn.yaml"]
    matches = lint(text, regions=[topology.region])
    assert not matches, "\n".join(str(m) for m in matches)


def test_consul_values_of_every_plan_pass_ew508(tmp_path: Path) -> None:
    from edgewise.check import check_paths

    for routing in ("consul", "consul-enterprise"):
        p = plan("local-zones-hashicups", routing)
        f = tmp_path / f"{routing}-values.yaml"
        f.write_text(render_tree(p.artifacts)["apps/hashicups/consul-values.yaml"], encoding="utf-8")
        assert check_paths([f], None, select=["EW508"]).findings == []
        insecure = yaml.safe_load(f.read_text(encoding="utf-8"))
        del insecure["global"]["acls"]
        f.write_text(yaml.safe_dump(insecure), encoding="utf-8")
        (finding,) = check_paths([f], None, select=["EW508"]).findings
        assert "ACLs are off" in finding.message
