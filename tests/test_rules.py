"""Every rule: metadata complete, PASS fixture clean of it, FAIL fixture caught by it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from edgewise.check import all_rules, check_paths
from edgewise.check.model import Rule

DATA = Path(__file__).parent / "data" / "rules"
RULES = all_rules()


def test_catalog_size_and_unique_names() -> None:
    assert len(RULES) >= 30
    assert len({r.name for r in RULES}) == len(RULES)
    for prefix in ("EW1", "EW2", "EW3", "EW4", "EW5"):
        assert any(r.id.startswith(prefix) for r in RULES)


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.id)
def test_metadata(rule: Rule) -> None:
    assert re.fullmatch(r"EW[1-5]\d\d", rule.id)
    assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)+", rule.name)
    assert rule.severity.value in ("error", "warning", "info")
    assert rule.summary.endswith(".") and "\n" not in rule.summary
    assert len(rule.rationale) > 60
    module = type(rule).__module__.rsplit(".", 1)[-1]
    assert module.startswith(rule.id.lower() + "_"), "one module per rule, named by its id"


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.id)
def test_fail_fixture_is_caught(rule: Rule) -> None:
    report = check_paths([DATA / rule.id / "fail.yaml"], None, select=[rule.id])
    hits = [f for f in report.findings if f.rule == rule.id]
    assert hits, f"{rule.id} did not fire on its FAIL fixture; notes: {report.notes}"
    assert all(f.line > 0 and f.file.endswith("fail.yaml") for f in hits)
    assert all(f.severity is rule.severity for f in hits)


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.id)
def test_pass_fixture_is_clean(rule: Rule) -> None:
    report = check_paths([DATA / rule.id / "pass.yaml"], None, select=[rule.id])
    assert [f.message for f in report.findings if f.rule == rule.id] == []


def test_ew202_reads_the_zone_label_where_zones_share_a_namespace() -> None:
    """The istio backend keeps every zone's copy in one namespace: a copy whose pods are
    labelled as lax's but pinned to las is caught by its label, not its namespace."""
    report = check_paths([DATA / "EW202" / "fail.yaml"], None, select=["EW202"])
    by_name = {f.message.split(" but ")[1].split()[1]: f.message for f in report.findings}
    assert set(by_name) == {"web", "api-lax-1a"}
    assert by_name["api-lax-1a"].startswith("its pods are labelled edgewise.dev/zone=us-west-2-lax-1a")
    assert by_name["api-lax-1a"].endswith("runs in us-west-2-las-1a")


def test_ew307_names_the_zone_copy_with_the_topology_inferred(tmp_path: Path) -> None:
    """Without a Topology document the zones come from the manifests; the zone's slug, and so
    the name of its copy, is the same, and the Region's own caller of `api` is not flagged."""
    text = (DATA / "EW307" / "fail.yaml").read_text()
    manifests = text.split("\n---\n", 1)[1]  # everything after the Topology document
    region_caller = (
        "\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: shop}\nspec:\n"
        "  selector: {matchLabels: {app: web}}\n  template:\n    metadata:\n      labels: {app: web}\n"
        "      annotations: {edgewise.dev/calls: api}\n    spec:\n"
        "      nodeSelector: {topology.kubernetes.io/zone: us-west-2a}\n"
        "      containers: [{name: web, image: example/web:1}]\n"
    )
    (tmp_path / "m.yaml").write_text(manifests + region_caller)
    report = check_paths([tmp_path / "m.yaml"], None, select=["EW307"])
    assert report.topology is not None
    assert [f.object for f in report.findings] == ["Deployment shop/web-lax-1a"]
    assert report.findings[0].message.endswith("call 'api-lax-1a' instead")
