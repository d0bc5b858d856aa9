"""The cluster plan against the real validators: eksctl's JSON schema and cfn-lint.

Topologies: the three examples plus two generated ones that mix every zone kind
(public endpoint with a new VPC; private endpoint reusing an existing VPC). cfn-lint is
slow, so each distinct template is linted once per session.
"""

from __future__ import annotations

import atexit
import json
import shutil
import subprocess
import tempfile
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml
from cfnlint.api import ManualArgs, lint

from cluster_specs import ALL
from edgewise.plan.artifacts import render_tree
from edgewise.plan.cluster import plan_cluster
from edgewise.plan.labels import REGION_NODE_LABEL
from edgewise.spec import load_spec
from edgewise.topology import Topology, build_topology

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = ROOT / ".." / "shared" / "schemas" / "eksctl" / "schema.json"
SPECS = dict(ALL)  # every cluster test topology
#: W3010 "avoid hardcoding availability zones": an edge subnet must name its exact zone
#: (a Local/Wavelength Zone or an Outpost's parent AZ); Fn::GetAZs never returns those.
IGNORED_CFN_RULES = ["W3010"]


#: generated variant: the mixed topology with both API endpoints
BOTH = "mixed-public-and-private"


@cache
def topology(name: str) -> Topology:
    if name == BOTH:
        text = SPECS["mixed-public"].read_text().replace("endpointAccess: public", "endpointAccess: public-and-private")
        scratch = tempfile.mkdtemp(prefix="edgewise-cluster-")
        atexit.register(shutil.rmtree, scratch, True)
        path = Path(scratch) / "both.yaml"
        path.write_text(text)
        return build_topology(load_spec(path))
    return build_topology(load_spec(SPECS[name]))


@cache
def files(name: str) -> dict[str, str]:
    return render_tree(plan_cluster(topology(name), ("demo",)))


@cache
def _lint(text: str, region: str) -> tuple[str, ...]:
    matches = lint(text, config=ManualArgs(regions=[region], ignore_checks=IGNORED_CFN_RULES))
    return tuple(f"{m.rule.id} {m.message} (line {m.linenumber})" for m in matches)


@pytest.fixture(scope="module")
def eksctl_validator() -> Any:
    if not SCHEMA.exists():
        pytest.skip("eksctl schema not available next to the repository")
    schema = json.loads(SCHEMA.read_text())
    return jsonschema.Draft7Validator(schema)


@pytest.mark.parametrize("name", [*sorted(SPECS), BOTH])
def test_eksctl_config_validates_against_schema(name: str, eksctl_validator: Any) -> None:
    doc = yaml.safe_load(files(name)["cluster/eksctl.yaml"])
    errors = sorted(eksctl_validator.iter_errors(doc), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)


@pytest.mark.parametrize("name", [*sorted(SPECS), BOTH])
def test_cloudformation_templates_pass_cfn_lint(name: str) -> None:
    templates = {p: c for p, c in files(name).items() if p.endswith(".cfn.yaml")}
    assert "cluster/network.cfn.yaml" in templates
    problems = {p: _lint(c, topology(name).region) for p, c in templates.items()}
    assert all(not v for v in problems.values()), problems


def test_generated_variant_has_both_endpoints() -> None:
    doc = yaml.safe_load(files(BOTH)["cluster/eksctl.yaml"])
    assert doc["vpc"]["clusterEndpoints"] == {"privateAccess": True, "publicAccess": True}
    assert "AWS::EC2::VPCEndpoint" in files(BOTH)["cluster/network.cfn.yaml"]
    assert "--public-access=false" not in files(BOTH)["RUNBOOK.md"]


def test_cfn_lint_catches_a_broken_template() -> None:
    """The lint harness itself must fail on a bad template (guards against a silent no-op)."""
    bad = files("wavelength")["cluster/network.cfn.yaml"].replace(
        "Type: AWS::EC2::CarrierGateway", "Type: AWS::EC2::CarrierGatewayz"
    )
    assert _lint(bad, "us-east-1")


def test_yaml_addons_parse_and_name_their_kind() -> None:
    for name in ("outposts", "mixed-public"):
        for path, content in files(name).items():
            if path.startswith("cluster/addons/") and path.endswith(".yaml"):
                docs = list(yaml.safe_load_all(content))
                assert len(docs) == 1 and isinstance(docs[0], dict), path


def test_coredns_patch_applies_with_kubectl_and_validates(tmp_path: Path) -> None:
    """Apply the patch exactly as the RUNBOOK does (strategic merge), offline with --local."""
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl not installed")
    patch = tmp_path / "coredns-patch.yaml"
    patch.write_text(files("wavelength")["cluster/addons/coredns-patch.yaml"])
    base = ROOT / "tests" / "data" / "cluster" / "coredns-base.yaml"
    out = subprocess.run(
        [
            kubectl,
            "patch",
            "-f",
            str(base),
            "--local",
            "--type",
            "strategic",
            "--patch-file",
            str(patch),
            "-o",
            "yaml",
        ],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    merged = yaml.safe_load(out)
    pod = merged["spec"]["template"]["spec"]
    assert pod["tolerations"] == []  # the EKS defaults are gone, not merged
    assert pod["nodeSelector"] == {REGION_NODE_LABEL: "true"}
    anti = pod["affinity"]["podAntiAffinity"]
    assert anti["requiredDuringSchedulingIgnoredDuringExecution"][0]["topologyKey"] == ("kubernetes.io/hostname")
    assert merged["spec"]["replicas"] >= 2
    kubernetes_validate.validate(merged, "1.31", strict=True)


def test_storage_class_validates() -> None:
    sc = yaml.safe_load(files("outposts")["cluster/addons/storageclass-gp2.yaml"])
    kubernetes_validate.validate(sc, "1.31", strict=True)
