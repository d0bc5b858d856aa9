"""`edgewise check` on a Helm chart: the chart is rendered with the real `helm template`
(with the values given), each object points at the template that renders it, and what
is found is what checking helm's own output finds."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from edgewise.cli import cli
from edgewise.lab.control_plane import LabError, find_program

REPO = Path(__file__).resolve().parents[1]
CHART = REPO / "tests" / "data" / "check" / "helm-chart"
TOPOLOGY = REPO / "examples" / "local-zones-hashicups" / "topology.yaml"
EDGE_RULES = {"EW201", "EW301"}  # scattered over unreachable Local Zones; one Service over them


@pytest.fixture(scope="module")
def helm() -> Path:
    try:
        return find_program("helm")
    except LabError as exc:
        pytest.fail(f"helm is built by `make lab` (tools/lab-build.sh): {exc}")


def check(helm: Path, *args: str, path: str | None = None) -> Any:
    env = {"PATH": path if path is not None else f"{helm.parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    return CliRunner().invoke(cli, ["check", *args, "--topology", str(TOPOLOGY), "--format", "json"], env=env)


def findings(result: Any) -> list[dict[str, Any]]:
    assert result.exit_code in (0, 1), result.output
    found: list[dict[str, Any]] = json.loads(result.stdout)["findings"]
    return found


def kind_line(template: Path, kind: str) -> int:
    return template.read_text().splitlines().index(f"kind: {kind}") + 1


def test_chart_is_rendered_and_findings_point_at_its_templates(helm: Path) -> None:
    found = findings(check(helm, str(CHART)))
    edge = {(f["rule"], f["file"], f["line"]) for f in found if f["rule"] in EDGE_RULES}
    deploy, svc = CHART / "templates" / "deployment.yaml", CHART / "templates" / "service.yaml"
    assert edge == {
        ("EW201", str(deploy), kind_line(deploy, "Deployment")),
        ("EW301", str(svc), kind_line(svc, "Service")),
    }
    # the object is the one helm rendered (release name and all), not the template text
    assert any(f["object"] == "Deployment default/release-name-web" for f in found)


@pytest.mark.parametrize("values", [["--helm-values", str(CHART / "pin-lax.yaml")],
                                    ["--helm-set", "zone=us-west-2-lax-1a"]])
def test_values_are_rendered_in(helm: Path, values: list[str]) -> None:
    """Pinned to one Local Zone by a value, the workload no longer scatters."""
    found = findings(check(helm, str(CHART), *values))
    assert not {f["rule"] for f in found} & EDGE_RULES, found


@pytest.mark.parametrize("values", [[], ["--set", "zone=us-west-2-lax-1a"]])
def test_the_chart_renders_valid_objects(helm: Path, values: list[str]) -> None:
    import kubernetes_validate
    import yaml

    out = subprocess.run([str(helm), "template", str(CHART), *values], capture_output=True, text=True, check=True)
    docs = [d for d in yaml.safe_load_all(out.stdout) if d]
    assert {d["kind"] for d in docs} == {"Deployment", "Service"}
    for d in docs:
        kubernetes_validate.validate(d, "1.31", strict=True)


def test_same_findings_as_checking_helms_own_output(helm: Path, tmp_path: Path) -> None:
    rendered = tmp_path / "rendered.yaml"
    out = subprocess.run([str(helm), "template", str(CHART), "--kube-version", "1.31"], capture_output=True,
                         text=True, check=True)
    rendered.write_text(out.stdout)
    via_chart = {(f["rule"], f["object"], f["message"]) for f in findings(check(helm, str(CHART)))}
    via_file = {(f["rule"], f["object"], f["message"]) for f in findings(check(helm, str(rendered)))}
    assert via_chart == via_file and via_chart


def test_chart_inside_a_tree_is_rendered_not_read_as_manifests(helm: Path, tmp_path: Path) -> None:
    shutil.copytree(CHART, tmp_path / "deploy" / "charts" / "web")
    (tmp_path / "deploy" / "other.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x, namespace: default}\ndata: {a: b}\n")
    r = check(helm, str(tmp_path / "deploy"))
    report = json.loads(r.stdout)
    assert report["objects"] == 3  # the chart's Deployment and Service, and the ConfigMap
    assert not any("values.yaml" in n or "skipped" in n for n in report["notes"]), report["notes"]
    assert {f["rule"] for f in report["findings"]} >= EDGE_RULES


def test_helm_missing_is_an_input_error(helm: Path, tmp_path: Path) -> None:
    r = check(helm, str(CHART), path=str(tmp_path))  # a PATH without helm
    assert r.exit_code == 2
    assert "is a Helm chart (Chart.yaml) and rendering it needs helm, which is not on PATH" in r.stderr
    # how to do it by hand: the same command, for the topology's Kubernetes version
    assert f"helm template {CHART} --kube-version 1.31 > rendered.yaml" in r.stderr


def test_template_error_is_an_input_error_with_helms_reason(helm: Path, tmp_path: Path) -> None:
    chart = tmp_path / "web"
    shutil.copytree(CHART, chart)
    (chart / "templates" / "config.yaml").write_text(
        'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata:\n  tag: {{ required "tag is required" '
        ".Values.tag }}\n")
    r = check(helm, str(chart))
    assert r.exit_code == 2
    assert "helm template failed:" in r.stderr and "tag is required" in r.stderr
    assert "Traceback" not in r.output


def test_values_without_a_chart_are_an_error(helm: Path) -> None:
    r = check(helm, str(REPO / "tests" / "data" / "check" / "region.yaml"), "--helm-set", "zone=x")
    assert r.exit_code == 2
    assert "Helm values were given, but no Helm chart" in r.stderr


def test_a_file_of_a_chart_is_checked_as_its_chart(helm: Path) -> None:
    """pre-commit's edgewise-check-changed passes the changed files: a template alone is
    not YAML, so it is checked as the chart it belongs to (rendered once)."""
    template, values = CHART / "templates" / "deployment.yaml", CHART / "values.yaml"
    r = check(helm, str(template), str(values), str(CHART / "templates"))
    report = json.loads(r.stdout)
    assert report["objects"] == 2
    assert sum("Helm chart rendered" in n for n in report["notes"]) == 1
    assert {f["rule"] for f in report["findings"]} >= EDGE_RULES
    assert all(f["file"].startswith(str(CHART)) for f in report["findings"])


@pytest.mark.parametrize(("version", "renders"), [("1.31", True), ("1.30", False)])
def test_chart_renders_for_the_topologys_kubernetes_version(helm: Path, tmp_path: Path, version: str,
                                                             renders: bool) -> None:
    """helm template's own default Kubernetes version is old (charts such as consul-k8s
    refuse it); check renders for the cluster's version, which a chart's kubeVersion
    constraint sees."""
    chart = tmp_path / "web"
    shutil.copytree(CHART, chart)
    (chart / "Chart.yaml").write_text((CHART / "Chart.yaml").read_text() + 'kubeVersion: ">=1.31.0-0"\n')
    topology = tmp_path / "topology.yaml"
    topology.write_text(TOPOLOGY.read_text().replace('kubernetesVersion: "1.31"', f'kubernetesVersion: "{version}"'))
    assert f'kubernetesVersion: "{version}"' in topology.read_text()
    env = {"PATH": f"{helm.parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    r = CliRunner().invoke(cli, ["check", str(chart), "--topology", str(topology), "--format", "json"], env=env)
    if renders:
        assert r.exit_code in (0, 1), r.output
        assert {f["rule"] for f in json.loads(r.stdout)["findings"]} >= EDGE_RULES
    else:
        assert r.exit_code == 2
        assert "incompatible with Kubernetes v1.30" in r.stderr, r.stderr


#: the upstream charts the RUNBOOK installs (tools/charts/, at the tags its README names),
#: with the values each one requires, and what an edge expert expects of each installed
#: as shipped beside edge zones that do not taint their nodes: a cluster-wide controller
#: free to land in any zone (EW201), and its webhook Service then spanning them (EW301);
#: the DaemonSet-only node termination handler pinned nowhere, which no rule should flag
UPSTREAM = {
    "aws-load-balancer-controller": (["--helm-set", "clusterName=edge"], {
        ("EW201", "Deployment default/release-name-aws-load-balancer-controller"),
        ("EW301", "Service default/aws-load-balancer-webhook-service")}),
    "aws-node-termination-handler": ([], set()),
    "consul": ([], None),  # renders (kubeVersion >= 1.22): what it finds is the Consul rules' business
}


@pytest.mark.parametrize("name", sorted(UPSTREAM))
def test_upstream_charts_the_runbook_installs(helm: Path, name: str) -> None:
    args, expected = UPSTREAM[name]
    chart = REPO / "tools" / "charts" / name
    r = check(helm, str(chart), *args)
    assert r.exit_code in (0, 1), r.output
    report = json.loads(r.stdout)
    assert report["objects"] > 3
    assert all(f["file"].startswith(str(chart / "templates")) for f in report["findings"])
    if expected is not None:
        edge = {(f["rule"], f["object"]) for f in report["findings"] if f["rule"] in EDGE_RULES}
        assert edge == expected


def test_settings_file_gives_helm_values_and_the_command_line_wins(helm: Path, tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copytree(CHART, tmp_path / "chart")
    (tmp_path / "pin.yaml").write_text("zone: us-west-2-lax-1a\n")
    (tmp_path / ".edgewise.yaml").write_text("helm-values: [pin.yaml]\n")
    (tmp_path / ".git").mkdir()  # the settings file's repository
    monkeypatch.chdir(tmp_path)
    pinned = findings(check(helm, "chart"))
    assert not {f["rule"] for f in pinned} & EDGE_RULES  # the file's values were rendered in
    unpinned = findings(check(helm, "chart", "--helm-set", "zone="))  # later wins: unpinned again
    assert {f["rule"] for f in unpinned} >= EDGE_RULES


def test_bad_helm_settings_are_reported_at_their_line(helm: Path, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".edgewise.yaml").write_text("ignore: [EW204]\nhelm-values: [missing.yaml]\nhelm-set: [novalue]\n")
    (tmp_path / ".git").mkdir()
    monkeypatch.chdir(tmp_path)
    r = check(helm, str(CHART))
    assert r.exit_code == 2
    assert ".edgewise.yaml:2" in r.stderr and "no such values file" in r.stderr
    assert ".edgewise.yaml:3" in r.stderr and "'novalue' is not KEY=VALUE" in r.stderr


def kustomization_inflating_the_chart(tmp_path: Path, zone: str) -> Path:
    shutil.copytree(CHART, tmp_path / "k" / "charts" / "web")
    (tmp_path / "k" / "kustomization.yaml").write_text(
        f"helmCharts:\n  - name: web\n    releaseName: shop\n    valuesInline: {{zone: '{zone}'}}\n")
    return tmp_path / "k"


@pytest.mark.parametrize(("zone", "scattered"), [("", True), ("us-west-2-lax-1a", False)])
def test_kustomization_inflating_a_chart(helm: Path, tmp_path: Path, zone: str, scattered: bool) -> None:
    if shutil.which("kubectl") is None:
        pytest.skip("kubectl renders kustomizations and is not installed")
    found = findings(check(helm, str(kustomization_inflating_the_chart(tmp_path, zone))))
    assert any(f["object"] == "Deployment default/shop-web" for f in found) or not scattered
    assert ({f["rule"] for f in found} >= EDGE_RULES) is scattered


def test_kustomization_inflating_a_chart_without_helm(helm: Path, tmp_path: Path) -> None:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl renders kustomizations and is not installed")
    only_kubectl = tmp_path / "bin"
    only_kubectl.mkdir()
    (only_kubectl / "kubectl").symlink_to(kubectl)
    r = check(helm, str(kustomization_inflating_the_chart(tmp_path, "")), path=str(only_kubectl))
    assert r.exit_code == 2
    assert "inflates Helm charts (helmCharts), which needs helm on PATH" in r.stderr
