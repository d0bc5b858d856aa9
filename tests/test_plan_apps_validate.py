"""Application plan output against the real validators.

* core Kubernetes kinds: ``kubernetes-validate`` in strict mode at the topology's version;
* Consul and Istio objects: the upstream CRD ``openAPIV3Schema`` (made strict: unknown
  fields fail, as the API server's structural pruning would silently drop them);
* ``kubectl kustomize apps/<app>`` renders every object exactly once;
* the Route 53 template passes cfn-lint.
"""

from __future__ import annotations

import copy
import shutil
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from edgewise.plan.apps import AppPlan, objects, plan_application
from edgewise.plan.artifacts import render_tree, write_tree
from edgewise.spec import Application, load_spec
from edgewise.topology import Topology, build_topology

ROOT = Path(__file__).resolve().parents[1]
SCHEMAS = ROOT / ".." / "shared" / "schemas"
EXAMPLES = ("local-zones-hashicups", "outposts", "wavelength")
BACKENDS = ("consul-enterprise", "consul", "istio", "kubernetes")
MESH_GROUPS = ("consul.hashicorp.com/", "networking.istio.io/")


@cache
def example(name: str) -> tuple[Topology, Application]:
    spec = load_spec(ROOT / "examples" / name)
    return build_topology(spec), spec.applications[0][0]


@cache
def plan(ex: str, routing: str) -> AppPlan:
    topology, app = example(ex)
    data = app.model_dump(by_alias=True, mode="json", exclude_none=True)
    data["spec"]["routing"] = routing
    return plan_application(topology, Application.model_validate(data))


def _strict(schema: Any) -> Any:
    """Reject unknown fields wherever the schema lists its properties."""
    if isinstance(schema, dict):
        out = {k: _strict(v) for k, v in schema.items()}
        if (
            "properties" in out
            and "additionalProperties" not in out
            and not out.get("x-kubernetes-preserve-unknown-fields")
        ):
            out["additionalProperties"] = False
        return out
    if isinstance(schema, list):
        return [_strict(v) for v in schema]
    return schema


@cache
def crd_schemas() -> dict[tuple[str, str], Any]:
    files = [
        *sorted((SCHEMAS / "consul-k8s").glob("*.yaml")),
        SCHEMAS / "istio" / "customresourcedefinitions.gen.yaml",
    ]
    out: dict[tuple[str, str], Any] = {}
    for f in files:
        for doc in yaml.safe_load_all(f.read_text()):
            if not doc or doc.get("kind") != "CustomResourceDefinition":
                continue
            group, kind = doc["spec"]["group"], doc["spec"]["names"]["kind"]
            for v in doc["spec"]["versions"]:
                root = dict(v["schema"]["openAPIV3Schema"])
                # the root may omit apiVersion/kind/metadata (Istio's do): strict below it only
                root["properties"] = _strict(root.get("properties", {}))
                out[(f"{group}/{v['name']}", kind)] = root
    return out


def validate(obj: dict[str, Any], version: str) -> None:
    if obj["apiVersion"].startswith(MESH_GROUPS):
        jsonschema.validate(obj, crd_schemas()[(obj["apiVersion"], obj["kind"])])
    else:
        kubernetes_validate.validate(obj, version, strict=True)


needs_schemas = pytest.mark.skipif(not SCHEMAS.is_dir(), reason="upstream schemas not available")


@needs_schemas
@pytest.mark.parametrize("routing", BACKENDS)
@pytest.mark.parametrize("ex", EXAMPLES)
def test_every_object_validates(ex: str, routing: str) -> None:
    topology, _ = example(ex)
    objs = objects(plan(ex, routing))
    mesh = [o for o in objs if o["apiVersion"].startswith(MESH_GROUPS)]
    assert (len(mesh) > 0) == (routing != "kubernetes")
    for o in objs:
        validate(o, topology.kubernetes_version)


@needs_schemas
def test_validators_reject_unknown_fields() -> None:
    """The validators used above do catch mistakes (so a pass means something)."""
    topology, _ = example("local-zones-hashicups")
    objs = objects(plan("local-zones-hashicups", "consul-enterprise"))
    deploy = copy.deepcopy(next(o for o in objs if o["kind"] == "Deployment"))
    deploy["spec"]["template"]["spec"]["topologySpreadConstraint"] = []
    with pytest.raises(Exception, match="topologySpreadConstraint"):
        validate(deploy, topology.kubernetes_version)
    resolver = copy.deepcopy(next(o for o in objs if o["kind"] == "ServiceResolver"))
    resolver["spec"]["failover"] = {"*": {"servic": "x"}}
    with pytest.raises(jsonschema.ValidationError):
        validate(resolver, topology.kubernetes_version)
    dr = copy.deepcopy(
        next(o for o in objects(plan("wavelength", "istio")) if o["kind"] == "DestinationRule")
    )
    dr["spec"]["trafficPolicy"]["outlierDetection"]["maxEjectionPct"] = 100
    with pytest.raises(jsonschema.ValidationError):
        validate(dr, topology.kubernetes_version)


def identity(o: dict[str, Any]) -> tuple[str, str, str, str]:
    return (o["apiVersion"], o["kind"], o["metadata"].get("namespace", ""), o["metadata"]["name"])


#: kustomize's default ("legacy") output order, as kustomize v5 defines it
#: (plugin/builtin/sortordertransformer/SortOrderTransformer.go: ``defaultOrderFirst``,
#: ``defaultOrderLast``, ``legacyIDSorter``): by kind rank, then group_version_kind, then
#: "<kind>.<version>.<group>|<namespace>|<name>" -- never by file
LEGACY_FIRST = (
    "Namespace", "ResourceQuota", "StorageClass", "CustomResourceDefinition", "ServiceAccount",
    "PodSecurityPolicy", "Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding", "ConfigMap",
    "Secret", "Endpoints", "Service", "LimitRange", "PriorityClass", "PersistentVolume",
    "PersistentVolumeClaim", "Deployment", "StatefulSet", "CronJob", "PodDisruptionBudget",
)
LEGACY_LAST = ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration")


def legacy_order(objs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    def key(o: dict[str, Any]) -> tuple[int, str, str]:
        kind = o["kind"]
        group, _, version = o["apiVersion"].rpartition("/")
        rank = (LEGACY_FIRST.index(kind) - len(LEGACY_FIRST) if kind in LEGACY_FIRST
                else 1 + LEGACY_LAST.index(kind) if kind in LEGACY_LAST else 0)
        gvk = "_".join((group or "~G", version or "~V", kind))
        gvk_string = ".".join((kind, version or "[noVer]", group or "[noGrp]"))
        meta = o["metadata"]
        return rank, gvk, "|".join((gvk_string, meta.get("namespace") or "~X", meta["name"]))

    assert not any(o["kind"] == "Namespace" and o["apiVersion"] != "v1" for o in objs)  # its special case
    return sorted(objs, key=key)


def kustomize(directory: Path) -> str:
    return subprocess.run(
        ["kubectl", "kustomize", str(directory)], capture_output=True, text=True, check=True, timeout=60
    ).stdout


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl not installed")
@pytest.mark.parametrize("routing", BACKENDS)
@pytest.mark.parametrize("ex", EXAMPLES)
def test_kustomize_renders_everything(ex: str, routing: str, tmp_path: Path) -> None:
    p = plan(ex, routing)
    out = tmp_path / "plan"
    write_tree(out, p.artifacts)
    rendered = kustomize(out / "apps" / p.app)
    docs = [d for d in yaml.safe_load_all(rendered) if d]
    objs = objects(p)
    assert len(docs) == len(objs)
    # every object once, in kustomize's own order: by kind and name, whatever the files
    assert list(map(identity, docs)) == list(map(identity, legacy_order(objs)))
    assert docs == legacy_order(objs)
    kust = yaml.safe_load((out / "apps" / p.app / "kustomization.yaml").read_text())
    files = {
        str(f.relative_to(out / "apps" / p.app)) for f in (out / "apps" / p.app).rglob("*.yaml")
    }
    # every file is a resource except the kustomization itself and the non-Kubernetes files
    assert set(kust["resources"]) == files - {
        "kustomization.yaml",
        "dns.cfn.yaml",
        "consul-values.yaml",
        "istiod-values.yaml",
    }


@pytest.mark.parametrize("dns", ["geoproximity", "failover", "weighted"])
def test_dns_template_passes_cfn_lint(dns: str) -> None:
    from cfnlint.api import lint

    topology, app = example("local-zones-hashicups")
    data = app.model_dump(by_alias=True, mode="json", exclude_none=True)
    data["spec"]["dns"] = dns
    p = plan_application(topology, Application.model_validate(data))
    text = render_tree(p.artifacts)["apps/hashicups/dns.cfn.yaml"]
    matches = lint(text, regions=[topology.region])
    assert not matches, "\n".join(str(m) for m in matches)


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl not installed")
@pytest.mark.parametrize(("ex", "routing"), [("local-zones-hashicups", "consul-enterprise"), ("outposts", "istio")])
def test_kustomize_output_does_not_depend_on_the_files(ex: str, routing: str, tmp_path: Path) -> None:
    """apps/<app> renders byte for byte as the same objects one per file, listed in reverse:
    so as every other split of them into files, the former one file per service included."""
    p = plan(ex, routing)
    out = tmp_path / "plan"
    write_tree(out, p.artifacts)
    apart = tmp_path / "apart"
    apart.mkdir()
    names = []
    for i, o in enumerate(reversed(objects(p))):
        names.append(f"{i:04d}.yaml")
        (apart / names[-1]).write_text(yaml.safe_dump(o))
    (apart / "kustomization.yaml").write_text(yaml.safe_dump({"resources": names}))
    together = kustomize(out / "apps" / p.app)
    assert together == kustomize(apart)
    assert len(names) > 2 * len(p.resources), "the plan's files hold several objects each"
