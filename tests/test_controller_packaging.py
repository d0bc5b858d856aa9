"""`plan` packages the edgewise controller for the kubernetes backend: CRD, RBAC,
Deployment (Region nodes, 2 replicas, leader election), PDB -- checked with the real
validators (kubernetes-validate, strict)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from edgewise.plan.cluster import plan_cluster
from edgewise.plan.cluster.controller import CONTROLLER_PATH, controller_objects, structural_schema
from edgewise.spec import load_spec
from edgewise.spec.models import ApplicationSpec
from edgewise.topology import build_topology
from edgewise.workflow import run_plan

ROOT = Path(__file__).resolve().parents[1]


def topo(name: str = "wavelength") -> Any:
    return build_topology(load_spec(ROOT / "examples" / name))


def by_kind(objs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {o["kind"]: o for o in objs}


@pytest.mark.parametrize("ex", ["wavelength", "outposts", "local-zones-hashicups"])
def test_every_object_validates_strictly(ex: str) -> None:
    t = topo(ex)
    for o in controller_objects(t):
        kubernetes_validate.validate(o, t.kubernetes_version, strict=True)


def test_deployment_runs_two_replicas_on_region_nodes_only() -> None:
    t = topo()
    d = by_kind(controller_objects(t))["Deployment"]
    assert d["spec"]["replicas"] == 2
    pod = d["spec"]["template"]["spec"]
    exprs = pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][
        "nodeSelectorTerms"][0]["matchExpressions"]
    assert {"key": "edgewise.dev/role", "operator": "In", "values": ["region"]} in exprs
    zones = next(e["values"] for e in exprs if e["key"] == "topology.kubernetes.io/zone")
    assert zones == [z.name for z in t.region_zones]
    assert "tolerations" not in pod  # never on a tainted edge node
    args = pod["containers"][0]["args"]
    assert args[:2] == ["controller", "run"] and "--lease" in args
    # the two replicas never share a node
    anti = pod["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][0]
    assert anti["topologyKey"] == "kubernetes.io/hostname"
    pdb = by_kind(controller_objects(t))["PodDisruptionBudget"]
    assert pdb["spec"]["minAvailable"] == 1
    assert pdb["spec"]["selector"]["matchLabels"] == d["spec"]["selector"]["matchLabels"]


def test_outpost_intra_vpc_reaches_the_controller() -> None:
    t = topo("outposts")
    args = by_kind(controller_objects(t))["Deployment"]["spec"]["template"]["spec"]["containers"][0]["args"]
    assert ("--outpost-intra-vpc" in args) == t.outpost_intra_vpc


def test_rbac_covers_what_the_controller_writes() -> None:
    objs = by_kind(controller_objects(topo()))
    rules = objs["ClusterRole"]["rules"]

    def allowed(group: str, resource: str, verb: str) -> bool:
        return any(group in r["apiGroups"] and resource in r["resources"] and verb in r["verbs"] for r in rules)

    for group, resource, verb in [("discovery.k8s.io", "endpointslices", "patch"), ("", "pods", "watch"),
                                  ("", "nodes", "watch"), ("", "services", "patch"), ("apps", "deployments", "patch"),
                                  ("", "namespaces", "delete"), ("edgewise.dev", "edgeapplications/status", "patch")]:
        assert allowed(group, resource, verb), (group, resource, verb)
    assert not allowed("", "secrets", "get")
    lease = objs["Role"]["rules"][0]
    assert lease["apiGroups"] == ["coordination.k8s.io"] and "update" in lease["verbs"]


def _edge_application(spec: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "edgewise.dev/v1alpha1", "kind": "EdgeApplication", "metadata": {"name": "shop"},
            "spec": spec}


def test_crd_schema_accepts_the_spec_and_rejects_what_the_model_rejects() -> None:
    crd = by_kind(controller_objects(topo()))["CustomResourceDefinition"]
    (version,) = crd["spec"]["versions"]
    schema = version["schema"]["openAPIV3Schema"]
    columns = [c["jsonPath"] for c in version["additionalPrinterColumns"]]
    assert columns == [".status.ready", ".metadata.creationTimestamp"]
    app = load_spec(ROOT / "examples" / "local-zones-hashicups").applications[0][0]
    spec = app.spec.model_dump(by_alias=True, mode="json", exclude_none=True)
    jsonschema.validate(_edge_application(spec), schema)
    bad = copy.deepcopy(spec)
    bad["services"][0]["port"] = 70000
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(_edge_application(bad), schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(_edge_application({**spec, "services": []}), schema)


def test_structural_schema_has_a_type_everywhere_and_no_refs() -> None:
    s = structural_schema(ApplicationSpec.model_json_schema(by_alias=True))

    def walk(node: Any, path: str) -> None:
        if isinstance(node, dict):
            if "properties" in node or "items" in node:
                assert "type" in node, path
            assert not {"$ref", "anyOf", "title", "default", "$defs"} & set(node), path
            assert node.get("additionalProperties") is not False, path
            for k, v in node.items():
                if k in ("properties",):
                    for name, sub in v.items():
                        assert "type" in sub, f"{path}.{name}"
                        walk(sub, f"{path}.{name}")
                elif isinstance(v, dict):
                    walk(v, f"{path}.{k}")

    walk(s, "spec")
    assert s["properties"]["services"]["items"]["properties"]["regionReplicas"]["nullable"] is True
    with pytest.raises(ValueError, match="anyOf"):
        structural_schema({"anyOf": [{"type": "string"}, {"type": "integer"}]})


def test_plan_emits_the_controller_only_for_the_kubernetes_backend(tmp_path: Path) -> None:
    t = topo()
    assert CONTROLLER_PATH not in {a.path for a in plan_cluster(t, ["two-tier"])}
    paths = {a.path: a for a in plan_cluster(t, ["two-tier"], controller=True)}
    assert CONTROLLER_PATH in paths
    runbook = paths["RUNBOOK.md"].render()
    assert f"kubectl apply -f {CONTROLLER_PATH}" in runbook
    assert runbook.index(CONTROLLER_PATH) < runbook.index("kubectl apply -k apps/two-tier")
    # the wavelength example routes with kubernetes: plan writes it, and check accepts it
    out = tmp_path / "plan"
    run_plan([ROOT / "examples" / "wavelength"], out, with_simulation=False)
    docs = list(yaml.safe_load_all((out / CONTROLLER_PATH).read_text()))
    assert [d["kind"] for d in docs] == [
        "Namespace", "CustomResourceDefinition", "ServiceAccount", "ClusterRole", "ClusterRoleBinding",
        "Role", "RoleBinding", "Deployment", "PodDisruptionBudget"]
    # the Local Zones example uses Consul: no controller
    out2 = tmp_path / "plan2"
    run_plan([ROOT / "examples" / "local-zones-hashicups"], out2, with_simulation=False)
    assert not (out2 / CONTROLLER_PATH).exists()


def test_dockerfile_installs_the_controller_extra() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert "'.[controller]'" in text
    assert 'CMD ["controller", "run"]' in text
    assert "USER 65532" in text
