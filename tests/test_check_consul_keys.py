"""Consul: one answer to "are namespaces mirrored" (resolver, calls and rules agree), and a
failover into another edge zone is found whatever key the resolver is reached by."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from edgewise.check import check_paths
from edgewise.check.engine import check_objects
from edgewise.check.model import CheckContext
from edgewise.k8s.inventory import Inventory, Source
from edgewise.routing import Caller
from edgewise.spec import load_spec
from edgewise.topology import Topology, build_topology

ROOT = Path(__file__).resolve().parents[1]
LZ_SPEC = ROOT / "examples" / "local-zones-hashicups" / "topology.yaml"
ZONES = {"lax": "us-west-2-lax-1a", "las": "us-west-2-las-1a", "region": None}
INJECT = {"consul.hashicorp.com/connect-inject": "true"}


@pytest.fixture(scope="module")
def lz() -> Topology:
    return build_topology(load_spec(LZ_SPEC))


def copy(ns: str, zone: str | None, name: str = "product-api", env: list[dict[str, str]] | None = None) -> list[Any]:
    """A per-zone copy (Deployment + Service) in namespace ``ns``, pinned to ``zone``."""
    pin = (
        {"topology.kubernetes.io/zone": zone} if zone else {"edgewise.dev/role": "region"}  # Region: edgewise label
    )
    container: dict[str, Any] = {"name": "c", "image": "x"}
    if env:
        container["env"] = env
    return [
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name, "namespace": ns},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": name}},
                "template": {
                    "metadata": {"labels": {"app": name}, "annotations": dict(INJECT)},
                    "spec": {"nodeSelector": pin, "containers": [container]},
                },
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": name, "namespace": ns},
            "spec": {"selector": {"app": name}, "ports": [{"port": 9090}]},
        },
    ]


def resolver(ns: str, failover_ns: str) -> dict[str, Any]:
    return {
        "apiVersion": "consul.hashicorp.com/v1alpha1",
        "kind": "ServiceResolver",
        "metadata": {"name": "product-api", "namespace": ns},
        "spec": {"failover": {"*": {"service": "product-api", "namespace": failover_ns}}},
    }


def helm(*, enterprise: bool, mirroring: bool) -> dict[str, Any]:
    image = "hashicorp/consul-enterprise:1.18-ent" if enterprise else "hashicorp/consul:1.18"
    return {
        "global": {"image": image, "enableConsulNamespaces": enterprise},
        "connectInject": {"enabled": True, "consulNamespaces": {"mirroringK8S": mirroring}},
    }


def write(tmp_path: Path, docs: list[Any]) -> Path:
    p = tmp_path / "m.yaml"
    p.write_text(yaml.safe_dump_all(docs, sort_keys=False))
    return p


def test_ce_helm_values_win_over_namespaces_named_in_config_entries(lz: Topology) -> None:
    """Per-zone namespaces under Consul CE are ONE Consul service: the resolver must not
    split them by namespace because a config entry names a namespace."""
    docs = [*copy("lax", ZONES["lax"]), *copy("las", ZONES["las"]), *copy("region", None)]
    # Helm values as check reads them from a values file (test_ce_values_file: the file itself)
    values = {"apiVersion": "edgewise.dev/input", "kind": "ConsulHelmValues", **helm(enterprise=False, mirroring=False)}
    docs += [resolver("region", "region"), values]
    objs = [(d, Source("m.yaml", i + 1, i)) for i, d in enumerate(docs)]
    inv = Inventory.from_objects(objs, lz, edge_taints=False)
    ctx = CheckContext(inventory=inv, topology=lz)
    assert inv.consul_mirroring() is False
    assert ctx.consul_mirroring() is False
    r = ctx.resolver
    assert r is not None
    res = r.resolve(Caller("us-west-2-lax-1a", "lax", ""), "product-api", via="consul")
    zones = {e.zone for e in res.tiers[0].endpoints}
    assert zones == {"us-west-2-lax-1a", "us-west-2-las-1a", "us-west-2a", "us-west-2b"}  # one service, all copies
    # the rules read the same answer: no "same-named resolvers need mirroring" here
    report = check_objects(objs, lz, edge_taints=False)
    assert not any(f.rule == "EW502" for f in report.findings)


def test_edition_flag_decides_when_no_helm_values(lz: Topology) -> None:
    docs = [*copy("lax", ZONES["lax"]), *copy("region", None), resolver("lax", "region")]
    objs = [(d, Source("m.yaml", i + 1, i)) for i, d in enumerate(docs)]
    assert Inventory.from_objects(objs, lz).consul_mirroring() is True  # inferred from the namespace field
    assert Inventory.from_objects(objs, lz, consul_edition="ce").consul_mirroring() is False
    assert Inventory.from_objects(objs, lz, consul_edition="enterprise").consul_mirroring() is True


@pytest.mark.parametrize(
    "call",
    [
        {"name": "API", "value": "http://product-api.lax:9090"},  # name.namespace from another namespace
        {"name": "API", "value": "http://product-api.lax.svc.cluster.local:9090"},
    ],
)
def test_failover_into_another_edge_zone_reached_by_name_namespace(
    tmp_path: Path, lz: Topology, call: dict[str, str]
) -> None:
    docs = [*copy("lax", ZONES["lax"]), *copy("las", ZONES["las"]), *copy("region", None)]
    docs += [resolver("lax", "las")]  # lax fails over to las: another edge zone
    docs += copy("web", ZONES["lax"], name="web", env=[call])
    docs += [helm(enterprise=True, mirroring=True)]
    report = check_paths([write(tmp_path, docs)], lz)
    rules = {(f.rule, f.object) for f in report.findings}
    assert ("EW306", "ServiceResolver lax/product-api") in rules
    msg = next(f.message for f in report.findings if f.rule == "EW306")
    assert "us-west-2-las-1a" in msg and "from us-west-2-lax-1a" in msg
    assert not any(f.rule == "EW305" for f in report.findings), "a failover exists: it goes to the wrong zone"


def test_failover_into_another_edge_zone_via_consul_upstream(tmp_path: Path, lz: Topology) -> None:
    docs = [*copy("lax", ZONES["lax"]), *copy("las", ZONES["las"]), *copy("region", None)]
    docs += [resolver("lax", "las"), helm(enterprise=True, mirroring=True)]
    web = copy("web", ZONES["lax"], name="web")
    web[0]["spec"]["template"]["metadata"]["annotations"]["consul.hashicorp.com/connect-service-upstreams"] = (
        "product-api.lax:9090"
    )
    report = check_paths([write(tmp_path, [*docs, *web])], lz)
    assert any(f.rule == "EW306" and f.object == "ServiceResolver lax/product-api" for f in report.findings)
    assert not any(f.rule == "EW305" for f in report.findings)


def test_region_failover_is_not_flagged(tmp_path: Path, lz: Topology) -> None:
    docs = [*copy("lax", ZONES["lax"]), *copy("region", None), resolver("lax", "region")]
    docs += copy("web", ZONES["lax"], name="web", env=[{"name": "API", "value": "http://product-api.lax:9090"}])
    docs += [helm(enterprise=True, mirroring=True)]
    report = check_paths([write(tmp_path, docs)], lz)
    assert not any(f.rule in ("EW306", "EW305") for f in report.findings), report.findings


def test_ce_values_file_read_by_check(tmp_path: Path, lz: Topology) -> None:
    docs = [*copy("lax", ZONES["lax"]), *copy("las", ZONES["las"]), *copy("region", None)]
    docs += [resolver("region", "region"), helm(enterprise=False, mirroring=False)]
    docs += copy("web", ZONES["lax"], name="web", env=[{"name": "API", "value": "http://product-api.region:9090"}])
    report = check_paths([write(tmp_path, docs)], lz)
    # one Consul service over the three copies: calls from lax can land in las
    ew301 = [f for f in report.findings if f.rule == "EW301" and f.object == "Deployment web/web"]
    assert ew301 and "us-west-2-las-1a" in ew301[0].message
