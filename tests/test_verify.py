"""edgewise verify: every example x every routing backend deploys onto the real control
plane as planned; a planted misplacement is reported; bad input exits 2."""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from conftest import SHARED_DIR
from edgewise.cli import cli
from edgewise.k8s.inventory import Source
from edgewise.lab import Lab
from edgewise.verify import verify_plan
from edgewise.workflow import run_plan

BACKENDS = ["consul-enterprise", "consul", "istio", "kubernetes"]
EXAMPLES = ["local-zones-hashicups", "wavelength", "outposts"]


def _specs(examples_dir: Path, example: str, backend: str, tmp: Path) -> list[Path]:
    """The example's topology with the HashiCups application routed by ``backend``."""
    tmp.mkdir(parents=True, exist_ok=True)
    topo = tmp / "topology.yaml"
    shutil.copy(examples_dir / example / "topology.yaml", topo)
    app_text = (examples_dir / "local-zones-hashicups" / "hashicups.yaml").read_text(encoding="utf-8")
    assert "routing: consul-enterprise" in app_text
    app = tmp / "app.yaml"
    routing = f"routing: {backend}"
    if example == "outposts":  # geoproximity needs Outpost coordinates the example does not give
        routing += "\n  dns: weighted"
    app.write_text(app_text.replace("routing: consul-enterprise", routing), encoding="utf-8")
    return [topo, app]


@pytest.fixture(scope="module")
def crds() -> list[Path]:
    """The upstream Consul and Istio CRDs, when the reference data is beside the checkout."""
    found = [SHARED_DIR / "schemas" / "consul-k8s", SHARED_DIR / "schemas" / "istio"]
    return found if all(p.is_dir() for p in found) else []


def _plan(examples_dir: Path, example: str, backend: str, tmp: Path) -> tuple[Path, list[Path]]:
    specs = _specs(examples_dir, example, backend, tmp / "spec")
    out = tmp / "plan"
    run_plan(specs, out, with_simulation=False)
    return out, specs


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("example", EXAMPLES)
def test_every_example_and_backend_deploys_as_planned(
    lab_clean: Lab, examples_dir: Path, crds: list[Path], tmp_path: Path, example: str, backend: str
) -> None:
    if backend != "kubernetes" and not crds:
        pytest.skip("the upstream Consul/Istio CRDs (../shared/schemas) are not available")
    plan, _specs = _plan(examples_dir, example, backend, tmp_path)
    # the plan directory alone: verify reads the spec the plan was made from (spec/)
    report = verify_plan(plan, [], crds=crds, lab=lab_clean, timeout=120)
    assert report.findings == [], report.render_text()
    assert report.notes == [], report.notes
    # it did deploy something: nodes, app pods, services, and CoreDNS was judged
    assert report.nodes >= 3 and report.pods >= 6 and report.services >= 3 and report.applied > 20


def _unpin_region_copies(objs: list[tuple[Mapping[str, Any], Source]]) -> None:
    """Plant the bug: Region copies lose their Region pin and tolerate the edge taint."""
    for body, _ in objs:
        if body.get("kind") != "Deployment":
            continue
        tmpl = body["spec"]["template"]  # type: ignore[index]
        if tmpl["metadata"]["labels"].get("edgewise.dev/copy") != "region":
            continue
        spec = tmpl["spec"]
        spec.pop("nodeSelector", None)
        spec.pop("affinity", None)
        spec["tolerations"] = [{"key": "edgewise.dev/edge", "operator": "Exists"}]
        body["spec"]["replicas"] = 6  # type: ignore[index]


def test_a_region_pod_without_its_region_pin_is_reported(
    lab_clean: Lab, examples_dir: Path, crds: list[Path], tmp_path: Path
) -> None:
    plan, _specs = _plan(examples_dir, "local-zones-hashicups", "kubernetes", tmp_path)
    report = verify_plan(plan, [], crds=crds, lab=lab_clean, tamper=_unpin_region_copies, timeout=120)
    misplaced = [f for f in report.findings if f.kind == "misplaced"]
    assert misplaced, report.render_text()
    assert all("/hashicups-region" in f.object or "hashicups-region/" in f.object for f in misplaced)
    assert all("the plan meant a Region node" in f.message for f in misplaced)
    # the Region's endpoints now include edge zones: the resolver's model still says Region only
    assert {f.kind for f in report.findings} <= {"misplaced", "endpoints"}


def test_bad_input_exits_2_without_starting_anything(examples_dir: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    missing = runner.invoke(cli, ["verify", str(tmp_path / "nope"), "--topology", str(examples_dir / "wavelength")])
    assert missing.exit_code == 2 and "not a plan directory" in missing.output
    plan = _plan(examples_dir, "wavelength", "kubernetes", tmp_path)[0]
    bad_crds = runner.invoke(
        cli, ["verify", str(plan), "--topology", str(examples_dir / "wavelength"), "--crds", str(tmp_path / "x.yaml")]
    )
    assert bad_crds.exit_code == 2 and "x.yaml" in bad_crds.output
    bad_kubeconfig = tmp_path / "kubeconfig"
    bad_kubeconfig.write_text("apiVersion: v1\nkind: Config\ncurrent-context: none\n", encoding="utf-8")
    dry = runner.invoke(
        cli, ["verify", str(plan), "--topology", str(examples_dir / "wavelength"), "--kubeconfig", str(bad_kubeconfig)]
    )
    assert dry.exit_code == 2 and "context 'none' not found" in dry.output


def test_dry_run_against_a_cluster_of_ones_own(lab: Lab, examples_dir: Path, tmp_path: Path) -> None:
    plan, specs = _plan(examples_dir, "wavelength", "kubernetes", tmp_path)
    runner = CliRunner()
    # no --topology: the plan's own spec (spec/)
    args = ["verify", str(plan), "--kubeconfig", str(lab.kubeconfig), "--format", "json", "-q"]
    result = runner.invoke(cli, args)
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["mode"] == "dry-run" and data["summary"]["rejected"] == 0 and data["summary"]["objectsApplied"] > 0
    assert not any("differs" in n for n in data["notes"])
    # --topology overrides the plan's spec, and a difference is said
    other = runner.invoke(cli, [*args, "--topology", str(examples_dir / "outposts")])
    assert other.exit_code == 0, other.output
    assert any("--topology differs from the spec this plan was made from" in n
               for n in json.loads(other.output)["notes"])
    same = runner.invoke(cli, [*args, *[a for s in specs for a in ("--topology", str(s))]])
    assert same.exit_code == 0 and not any("differs" in n for n in json.loads(same.output)["notes"]), same.output
    # nothing was created
    assert not [n for n in lab.client.list("v1", "Namespace") if n["metadata"]["name"].startswith("hashicups")]
