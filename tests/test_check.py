"""check end to end: inputs, outputs, exit codes, suppression, the docs, real manifests."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from click.testing import CliRunner

from edgewise.check import Severity, check_objects, check_paths, render_rules_doc
from edgewise.check.cli import check_command
from edgewise.errors import InputError
from edgewise.k8s.inventory import Source
from edgewise.spec import load_spec
from edgewise.topology import Topology, build_topology

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).parent / "data"
CHECK = DATA / "check"
RULES = DATA / "rules"
LZ_SPEC = ROOT / "examples" / "local-zones-hashicups" / "topology.yaml"
HASHICUPS = ROOT.parent / "shared" / "realworld" / "hashicups-consul-k8s"


@pytest.fixture(scope="module")
def lz() -> Topology:
    return build_topology(load_spec(LZ_SPEC))


def run(*args: str) -> Any:
    return CliRunner().invoke(check_command, list(args))


# -- the seeds' failures, each caught by the right rule ---------------------------------
@pytest.mark.parametrize(
    ("fixture", "rule"),
    [
        ("EW301", "EW301"),  # one Service over pods in several Local Zones and AZs
        ("EW303", "EW303"),  # per-zone namespace calling postgres that lives only in the Region
        ("EW108", "EW108"),  # CoreDNS not pinned
        ("EW302", "EW302"),  # PreferClose with edge endpoints
        ("EW401", "EW401"),  # edge ALB Ingress without a subnet annotation
        ("EW506", "EW506"),  # Istio failover without outlier detection
        ("EW110", "EW110"),  # Outpost SG rules that reference SG ids
    ],
)
def test_seed_failures_caught_by_full_rule_set(fixture: str, rule: str) -> None:
    report = check_paths([RULES / fixture / "fail.yaml"], None)  # all rules, not just one
    assert rule in {f.rule for f in report.findings}


# -- exit codes, formats, selection -------------------------------------------------------
def test_cli_exit_codes_and_fail_on() -> None:
    fail = str(RULES / "EW301" / "fail.yaml")
    assert run(fail).exit_code == 1
    assert run(str(RULES / "EW301" / "pass.yaml")).exit_code == 0
    warn_only = str(RULES / "EW201" / "fail.yaml")
    assert run(warn_only).exit_code == 0  # a warning does not reach the default --fail-on
    assert run(warn_only, "--fail-on", "warning").exit_code == 1
    assert run(fail, "--ignore", "EW3").exit_code == 0
    assert run(fail, "--select", "EW1,EW2").exit_code == 0


def test_text_output_grouped_with_file_line() -> None:
    out = run(str(RULES / "EW301" / "fail.yaml")).output
    assert "Deployment default/web" in out
    assert "fail.yaml:66: error EW301 service-spans-edge-zones" in out
    assert "1 error" in out


def test_json_output() -> None:
    res = run(str(RULES / "EW303" / "fail.yaml"), "--format", "json")
    data = json.loads(res.output)
    (f,) = [f for f in data["findings"] if f["rule"] == "EW303"]
    assert {"rule", "name", "severity", "message", "file", "line", "object"} <= f.keys()
    assert f["object"] == "Deployment lax/product-api" and f["severity"] == "error"
    assert f["line"] > 1 and "postgres" in f["message"]


# SARIF 2.1.0: the official schema is not available offline here, so this is the subset of
# it that edgewise emits, with the same required properties, enums and bounds as the
# OASIS schema (sarif-schema-2.1.0.json), and additionalProperties: false as there.
_MSG = {
    "type": "object",
    "additionalProperties": False,
    "required": ["text"],
    "properties": {"text": {"type": "string"}, "markdown": {"type": "string"}},
}
_LEVEL = {"enum": ["none", "note", "warning", "error"]}


def _obj(props: dict[str, Any], required: list[str] | None = None, **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "object", "additionalProperties": False, "properties": props}
    if required:
        out["required"] = required
    return {**out, **extra}


def _arr(items: dict[str, Any]) -> dict[str, Any]:
    return {"type": "array", "items": items}


_RULE = _obj(
    {
        "id": {"type": "string"},
        "name": {"type": "string"},
        "shortDescription": _MSG,
        "fullDescription": _MSG,
        "help": _MSG,
        "defaultConfiguration": _obj({"level": _LEVEL}),
    },
    ["id"],
)
_DRIVER = _obj({"name": {"type": "string"}, "version": {"type": "string"}, "rules": _arr(_RULE)}, ["name"])
_PHYSICAL = _obj(
    {
        "artifactLocation": _obj({"uri": {"type": "string"}}),
        "region": _obj({"startLine": {"type": "integer", "minimum": 1}}, ["startLine"]),
    },
    anyOf=[{"required": ["artifactLocation"]}, {"required": ["address"]}],
)
_LOCATION = _obj(
    {"physicalLocation": _PHYSICAL, "logicalLocations": _arr(_obj({"fullyQualifiedName": {"type": "string"}}))}
)
_RESULT = _obj(
    {
        "ruleId": {"type": "string"},
        "ruleIndex": {"type": "integer", "minimum": -1},
        "level": _LEVEL,
        "message": _obj({"text": {"type": "string"}}, anyOf=[{"required": ["text"]}, {"required": ["id"]}]),
        "suppressions": _arr(
            _obj({"kind": {"enum": ["inSource", "external"]}, "justification": {"type": "string"}}, ["kind"])
        ),
        "locations": _arr(_LOCATION),
        "partialFingerprints": {"type": "object", "additionalProperties": {"type": "string"}},
    },
    ["message"],
)
SARIF_SUBSET = _obj(
    {
        "$schema": {"type": "string"},
        "version": {"enum": ["2.1.0"]},
        "runs": _arr(
            _obj(
                {
                    "tool": _obj({"driver": _DRIVER}, ["driver"]),
                    "results": _arr(_RESULT),
                    "properties": {"type": "object"},  # a propertyBag, as in the OASIS schema
                },
                ["tool"],
            )
        ),
    },
    ["version", "runs"],
)


def test_sarif_output_validates_and_indexes_rules() -> None:
    levels: dict[str, str] = {}
    suppressed = False
    for path in (CHECK / "suppressed.yaml", RULES / "EW110" / "fail.yaml"):
        log = json.loads(run(str(path), "--format", "sarif").output)
        jsonschema.validate(log, SARIF_SUBSET)
        run0 = log["runs"][0]
        rules = run0["tool"]["driver"]["rules"]
        assert len(rules) >= 30
        for r in run0["results"]:
            assert rules[r["ruleIndex"]]["id"] == r["ruleId"]
            assert r["locations"][0]["physicalLocation"]["region"]["startLine"] >= 1
            levels[r["ruleId"]] = r["level"]
            suppressed = suppressed or bool(r.get("suppressions"))
    assert levels["EW110"] == "error" and levels["EW201"] == "warning"
    assert suppressed


def test_inline_suppression_needs_a_reason() -> None:
    report = check_paths([CHECK / "suppressed.yaml"], None, select=["EW201"])
    assert [f.object for f in report.findings] == ["Deployment default/noreason"]
    ((f, reason),) = report.suppressed
    assert f.object == "Deployment default/batch" and "batch workers" in reason
    assert "suppressed:" in run(str(CHECK / "suppressed.yaml"), "-v").output


# -- inputs -------------------------------------------------------------------------------
def test_missing_file_and_yaml_error_exit_2() -> None:
    missing = run(str(CHECK / "nope.yaml"))
    assert missing.exit_code == 2 and "no such file" in missing.output
    bad = run(str(CHECK / "bad.yaml"))
    assert bad.exit_code == 2 and "bad.yaml:5" in bad.output
    with pytest.raises(InputError):
        check_paths([CHECK / "bad.yaml"], None)


def test_unknown_kinds_and_non_objects_are_skipped_with_notes(lz: Topology) -> None:
    report = check_paths([CHECK / "region.yaml"], lz)
    assert any("without apiVersion/kind" in n for n in report.notes)
    assert report.objects == 3  # Deployment, Service, the unknown kind (indexed, no rule cares)


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl not installed")
def test_kustomization_rendered_and_mapped_to_source(lz: Topology) -> None:
    report = check_paths([CHECK / "kustomize", CHECK / "region.yaml"], lz, select=["EW303"])
    (f,) = report.findings
    assert f.object == "Deployment lax/product-api"  # namespace set by kustomize
    assert f.file.endswith("kustomize/base/app.yaml") and f.line == 19


def test_kustomization_without_kubectl(monkeypatch: pytest.MonkeyPatch, lz: Topology) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(InputError, match="needs kubectl"):
        check_paths([CHECK / "kustomize"], lz)


def test_cloudformation_short_tags_and_inferred_topology() -> None:
    # no --topology and no Topology document: zones come from the catalog; the Outpost ARN
    # in a subnet is enough for the SG-reference rule
    report = check_paths([CHECK / "cfn-short-tags.yaml"], None, select=["EW110"])
    assert [f.object for f in report.findings] == ["CloudFormation SelfRef"]
    assert report.findings[0].line == 22  # the SourceSecurityGroupId line
    assert report.topology is not None and report.topology.region == "us-west-2"


def test_check_objects_in_memory(lz: Topology) -> None:
    import yaml

    docs = list(yaml.safe_load_all((RULES / "EW303" / "fail.yaml").read_text()))
    objs = [
        (d, Source("<plan>/apps/x.yaml", 0, i))
        for i, d in enumerate(docs)
        if d.get("apiVersion") != "edgewise.dev/v1alpha1"
    ]
    findings = check_objects(objs, lz).findings
    assert "EW303" in {f.rule for f in findings}
    assert all(f.file == "<plan>/apps/x.yaml" for f in findings)
    cfg = {
        "apiVersion": "eksctl.io/v1alpha5",
        "kind": "ClusterConfig",
        "metadata": {"name": "x", "region": "us-west-2"},
        "availabilityZones": ["us-west-2a", "us-west-2-lax-1a"],
    }
    assert [f.rule for f in check_objects([], lz, cluster_config=cfg, select=["EW101"]).findings] == ["EW101"]


# -- docs ---------------------------------------------------------------------------------
def test_rules_doc_is_current() -> None:
    current = (ROOT / "docs" / "rules.md").read_text(encoding="utf-8")
    assert current == render_rules_doc(), "regenerate docs/rules.md with render_rules_doc()"


# -- the real HashiCups manifests against a Local Zones topology ---------------------------
@pytest.mark.skipif(not HASHICUPS.is_dir(), reason="real-world manifests not present")
def test_real_hashicups_on_local_zones(lz: Topology) -> None:
    # on nodes edgewise built (edge taint asserted), unmodified pods stay in the Region: no errors
    tainted = check_paths([HASHICUPS], lz, edge_taints=True)
    assert tainted.count(Severity.ERROR) == 0 and tainted.objects > 20
    # ... but only thanks to the taint: each unpinned Deployment is reported
    relies = {f.object for f in tainted.findings if f.rule == "EW205"}
    assert "Deployment default/postgres" in relies and len(relies) == 6
    # on untainted edge nodes (the seed's cluster) every service scatters over the zones;
    # nothing in these manifests says the nodes are tainted, so that is also the default
    report = check_paths([HASHICUPS], lz, edge_taints=False)
    rules = {f.rule for f in report.findings}
    assert {"EW301", "EW201"} <= rules
    default = check_paths([HASHICUPS], lz)
    assert {(f.rule, f.object) for f in default.findings} == {(f.rule, f.object) for f in report.findings}
    objects = {f.object for f in report.findings if f.rule == "EW301"}
    assert "Deployment default/public-api" in objects  # env PRODUCT_API_URI -> products-api
    assert "Deployment default/products-api" in objects  # ConfigMap db_connection host=postgres
    assert "Deployment default/nginx" in objects  # nginx proxy_pass -> public-api


def test_malformed_objects_never_crash(lz: Topology) -> None:
    weird: list[dict[str, Any]] = [
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": None, "spec": None},
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "d"},
            "spec": {
                "replicas": "three",
                "template": {
                    "spec": {
                        "containers": "nope",
                        "nodeSelector": ["x"],
                        "tolerations": {"a": 1},
                        "affinity": {
                            "nodeAffinity": {
                                "requiredDuringSchedulingIgnoredDuringExecution": {
                                    "nodeSelectorTerms": [None, {"matchExpressions": [None]}]
                                }
                            }
                        },
                    }
                },
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "s"},
            "spec": {"selector": None, "ports": [None, {"port": "80"}], "type": "ExternalName", "externalName": None},
        },
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "Ingress",
            "metadata": {"name": "i"},
            "spec": {"rules": [None, {"http": {"paths": [{"backend": None}]}}]},
        },
        {
            "apiVersion": "consul.hashicorp.com/v1alpha1",
            "kind": "ServiceResolver",
            "metadata": {"name": "r"},
            "spec": {"failover": {"*": None}, "redirect": "x"},
        },
        {
            "apiVersion": "consul.hashicorp.com/v1alpha1",
            "kind": "ServiceIntentions",
            "metadata": {"name": "r"},
            "spec": {"sources": [None], "destination": None},
        },
        {
            "apiVersion": "networking.istio.io/v1",
            "kind": "DestinationRule",
            "metadata": {"name": "x"},
            "spec": {"host": None, "trafficPolicy": []},
        },
        {
            "apiVersion": "eksctl.io/v1alpha5",
            "kind": "ClusterConfig",
            "metadata": {"name": "c"},
            "nodeGroups": [None, {"availabilityZones": None}],
            "vpc": [],
        },
        {"apiVersion": "example.com/v1", "kind": "Gadget", "metadata": {"name": "g"}},
    ]
    cfn = [
        {
            "Resources": {
                "A": None,
                "B": {"Type": "AWS::AutoScaling::AutoScalingGroup", "Properties": {"VPCZoneIdentifier": None}},
            }
        }
    ]
    findings = check_objects([(d, Source("w.yaml", 1, i)) for i, d in enumerate(weird)], lz, cfn_templates=cfn).findings
    assert all(f.file in ("w.yaml", "") for f in findings)


@pytest.mark.skipif(not HASHICUPS.is_dir(), reason="real-world manifests not present")
def test_cli_topology_and_untainted_edge() -> None:
    # no eksctl config and no toleration of the edge taint: edge nodes assumed untainted, said so
    default = run(str(HASHICUPS), "--topology", str(LZ_SPEC))
    assert default.exit_code == 1 and "EW301" in default.output
    assert "assumed: edge nodes assumed untainted" in default.output
    hazards = run(str(HASHICUPS), "--topology", str(LZ_SPEC), "--untainted-edge", "-f", "json")
    assert hazards.exit_code == 2  # -f is not an option: usage error
    hazards = run(str(HASHICUPS), "--topology", str(LZ_SPEC), "--untainted-edge", "--format", "json")
    assert hazards.exit_code == 1
    assert {"EW301", "EW201"} <= {f["rule"] for f in json.loads(hazards.output)["findings"]}


def test_consul_edition_option() -> None:
    fixture = RULES / "EW306" / "fail.yaml"  # resolvers that name Consul namespaces
    assert "EW501" not in run(str(fixture), "--select", "EW5").output
    ce = run(str(fixture), "--select", "EW5", "--consul-edition", "ce")
    assert "EW501" in ce.output and ce.exit_code == 1


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl not installed")
def test_kustomize_same_name_in_two_namespaces_maps_to_the_right_file(lz: Topology) -> None:
    report = check_paths([CHECK / "kustomize-ns"], lz, select=["EW201"])
    (f,) = report.findings
    assert f.object == "Deployment b/web" and f.file.endswith("kustomize-ns/b.yaml")


def test_spreading_over_outposts_with_intra_vpc_is_fine() -> None:
    op = build_topology(load_spec(ROOT / "examples" / "outposts" / "topology.yaml"))
    dep = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {
            "replicas": 4,
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "nodeSelector": {"edgewise.dev/role": "edge"},
                    "tolerations": [{"key": "edgewise.dev/edge", "operator": "Exists"}],
                },
            },
        },
    }
    assert check_objects([(dep, Source("w.yaml", 1, 0))], op, select=["EW201"]).findings == []
    assert op.outpost_intra_vpc


def test_long_zone_lists_are_summarised() -> None:
    from edgewise.check.rules._common import describe

    pairs = {f"z{i:02d}": [f"e{j}" for j in range(8)] for i in range(9)}
    text = describe(pairs)
    assert text.count("from z") == 5 and "and from 4 more zone(s)" in text
    assert "e4, 3 more" in text
