"""The rule fixtures are real objects: valid for Kubernetes, the CRDs, eksctl and cfn-lint.

A rule proven only on objects the real tools would reject proves little, so every fixture
document is validated against the upstream definitions (read from ../shared/schemas).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from edgewise.check.inputs import parse_text

ROOT = Path(__file__).resolve().parents[1]
SCHEMAS = ROOT.parent / "shared" / "schemas"
DATA = Path(__file__).parent / "data"
FILES = sorted((DATA / "rules").glob("*/*.yaml")) + sorted(
    p for p in (DATA / "check").rglob("*.yaml")
    if p.name not in ("bad.yaml", "kustomization.yaml")
    # a Helm chart's files are templates and values: tests/test_check_helm.py validates what it renders
    and not any((d / "Chart.yaml").is_file() for d in p.parents)
)
K8S_KINDS = {"Deployment", "Service", "Ingress", "Namespace", "ConfigMap"}

pytestmark = pytest.mark.skipif(not SCHEMAS.is_dir(), reason="upstream schemas not present")


def documents() -> Iterator[tuple[str, dict[str, Any]]]:
    for f in FILES:
        for doc in parse_text(f.read_text(encoding="utf-8"), str(f.relative_to(DATA))):
            if isinstance(doc.data, dict):
                yield f"{doc.file}#{doc.index}", doc.data


@cache
def crd_schemas() -> dict[tuple[str, str], Any]:
    out: dict[tuple[str, str], Any] = {}
    for f in sorted((SCHEMAS / "consul-k8s").glob("*.yaml")) + sorted((SCHEMAS / "istio").glob("*.yaml")):
        for d in yaml.safe_load_all(f.read_text(encoding="utf-8")):
            if isinstance(d, dict) and d.get("kind") == "CustomResourceDefinition":
                for v in d["spec"]["versions"]:
                    key = (f"{d['spec']['group']}/{v['name']}", d["spec"]["names"]["kind"])
                    out[key] = v["schema"]["openAPIV3Schema"]
    return out


def test_kubernetes_objects_validate() -> None:
    import kubernetes_validate

    checked = 0
    for where, d in documents():
        if d.get("kind") in K8S_KINDS:
            try:
                kubernetes_validate.validate(d, "1.31", strict=True)
            except kubernetes_validate.ValidationError as exc:
                pytest.fail(f"{where}: {exc}")
            checked += 1
    assert checked > 50


def test_mesh_crds_and_eksctl_configs_validate() -> None:
    crds = crd_schemas()
    eksctl = json.loads((SCHEMAS / "eksctl" / "schema.json").read_text(encoding="utf-8"))
    checked = 0
    for where, d in documents():
        key = (str(d.get("apiVersion")), str(d.get("kind")))
        schema = crds.get(key) or (eksctl if key[1] == "ClusterConfig" else None)
        if schema is None:
            continue
        try:
            jsonschema.validate(d, schema)
        except jsonschema.ValidationError as exc:
            pytest.fail(f"{where}: {exc.message} at {list(exc.absolute_path)}")
        checked += 1
    assert checked > 25


#: fixtures that break a CloudFormation quota on purpose, with the cfn-lint error that
#: says so (cfn-lint's own reading of the quota EW122 enforces)
CFN_EXPECTED_ERRORS = {"rules/EW122/fail.yaml#0": ["E3010"]}


def test_cloudformation_templates_lint_clean() -> None:
    from cfnlint.api import ManualArgs, lint

    checked = 0
    for where, d in documents():
        if "Resources" not in d or "kind" in d:
            continue
        template = {"AWSTemplateFormatVersion": "2010-09-09", **d}
        matches = lint(yaml.safe_dump(template), config=ManualArgs(regions=["us-west-2"]))
        errors = [f"{m.rule.id} {m.message}" for m in matches if m.rule.id.startswith("E")]
        expected = CFN_EXPECTED_ERRORS.get(where, [])
        assert [e.split()[0] for e in errors] == expected, (where, errors)
        checked += 1
    assert checked > 10
