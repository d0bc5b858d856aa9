"""edgewise verify: every example x every routing backend deploys onto the real control
plane as planned; a planted misplacement is reported; bad input exits 2."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from edgewise.cli import cli
from edgewise.k8s.inventory import Source
from edgewise.lab import Lab
from edgewise.plan.cluster.steps import runbook_from_json
from edgewise.spec import load_spec
from edgewise.topology import build_topology
from edgewise.verify import verify_plan
from edgewise.verify.addons import find_charts
from edgewise.verify.run import KeptLab, empty_kept_lab, skipped_steps
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


def _plan(examples_dir: Path, example: str, backend: str, tmp: Path) -> tuple[Path, list[Path]]:
    specs = _specs(examples_dir, example, backend, tmp / "spec")
    out = tmp / "plan"
    run_plan(specs, out, with_simulation=False)
    return out, specs


@pytest.fixture(scope="module")
def charts() -> Path:
    found = find_charts()
    if found is None or not (found / "consul" / "Chart.yaml").is_file():
        pytest.fail("the add-on charts are not built: run `make lab` (make test does)")
    return found


@pytest.fixture(scope="module")
def kept(lab: Lab) -> Iterator[KeptLab]:
    """What the verifications of one topology share in this worker's lab: its nodes,
    CoreDNS and the Helm releases (see KeptLab); emptied when the module is done."""
    keep = KeptLab()
    yield keep
    empty_kept_lab(lab, keep)


@pytest.fixture
def empty_lab(lab: Lab, kept: KeptLab) -> Lab:
    """The lab with nothing kept in it, for a verification that builds its own cluster."""
    empty_kept_lab(lab, kept)
    return lab


#: the releases every plan's RUNBOOK installs, and those of a routing backend
ALWAYS = {"aws-ebs-csi-driver", "aws-load-balancer-controller"}
MESH = {"consul-enterprise": {"consul"}, "consul": {"consul"}, "istio": {"istio-base", "istiod"}, "kubernetes": set()}


# One xdist group per example: its four backends' cases run in one worker, one after
# another, and share that worker's lab's nodes, CoreDNS and Helm releases (KeptLab)
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    "example", [pytest.param(e, marks=pytest.mark.xdist_group(f"verify-{e}")) for e in EXAMPLES]
)
def test_every_example_and_backend_deploys_as_planned(
    lab: Lab, kept: KeptLab, examples_dir: Path, charts: Path, tmp_path: Path, example: str, backend: str
) -> None:
    plan, _specs = _plan(examples_dir, example, backend, tmp_path)
    # the plan directory alone: verify reads the spec the plan was made from (spec/);
    # the upstream CRDs come with the real charts the RUNBOOK installs. Each case still
    # runs every helm line of its RUNBOOK with its own values (a release the last case of
    # this example installed is upgraded in place), and its pods are placed and judged anew
    report = verify_plan(plan, [], lab=lab, keep=kept, timeout=120)
    assert report.findings == [], report.render_text()
    assert not any("differs" in n or "were not installed" in n or "pins chart version" in n
                   for n in report.notes), report.notes
    # the DNS step needs the ALBs the load balancer controller makes: skipped, and said so
    dns = [s.key for s in runbook_from_json((plan / "runbook.json").read_text()).steps if s.key.startswith("dns-")]
    assert sorted(dns) == sorted(f"dns-{a.metadata.name}" for a, _ in load_spec([plan / "spec"]).applications
                                 if (plan / "apps" / a.metadata.name / "dns.cfn.yaml").is_file())
    assert [n.split("'")[1] for n in report.notes if n.startswith("RUNBOOK step") and "not carried out" in n] == dns
    releases = {a["release"]: a for a in report.addons}
    spec = load_spec([plan / "spec"])  # an example may carry an application of its own, on another mesh
    meshes = {r for a, _ in spec.applications for r in MESH[a.spec.routing.value]}
    wanted = ALWAYS | meshes | ({"aws-node-termination-handler"} if example == "outposts" else set())
    assert MESH[backend] <= wanted and set(releases) == wanted, report.render_text()
    region = {z.name for z in build_topology(spec).region_zones}
    for name, a in releases.items():
        # every chart Deployment/StatefulSet/DaemonSet got its pods, placed by the real scheduler
        assert a["objects"] > 0 and (a["pods"] > 0) == bool(a["workloads"]), a
        assert "(not scheduled)" not in a["podsPerZone"], a
        if name != "aws-ebs-csi-driver":  # its node DaemonSet runs on every node, edge ones too
            assert set(a["podsPerZone"]) <= region, a  # the plan's values pin controllers to the Region
    if "aws-ebs-csi-driver" in releases:
        assert set(releases["aws-ebs-csi-driver"]["podsPerZone"]) > region, "EBS CSI node plugin on edge nodes too"
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


def test_a_region_pod_without_its_region_pin_is_reported(empty_lab: Lab, examples_dir: Path, tmp_path: Path) -> None:
    plan, _specs = _plan(examples_dir, "local-zones-hashicups", "kubernetes", tmp_path)
    report = verify_plan(plan, [], lab=empty_lab, tamper=_unpin_region_copies, timeout=120)
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


def test_dry_run_against_a_cluster_of_ones_own(empty_lab: Lab, examples_dir: Path, tmp_path: Path) -> None:
    lab = empty_lab
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
    # nothing was created (a namespace an earlier verification left may still be terminating)
    assert not [n for n in lab.client.list("v1", "Namespace")
                if n["metadata"]["name"].startswith("hashicups") and not n["metadata"].get("deletionTimestamp")]


def test_verify_installs_the_runbooks_helm_lines_from_the_runbook_itself(
    examples_dir: Path, charts: Path, tmp_path: Path
) -> None:
    """One source: the releases are parsed from runbook.json in the RUNBOOK's order, the
    values files are the plan's, AWS variables get lab values, and the chart versions the
    RUNBOOK pins are the versions of the charts the lab installs (Istio's: the release of
    the istio.io/istio commit istiod and its charts come from, whose Chart.yaml says 1.0.0)."""
    import yaml

    from edgewise.plan.apps.install import ISTIO_VERSION
    from edgewise.verify.addons import DEV_CHART_VERSION, LAB_VARIABLES, chart_version, helm_releases

    release = (Path(__file__).resolve().parents[1] / "tools/go/istio/RELEASE").read_text(encoding="utf-8").strip()
    assert release == ISTIO_VERSION  # the RUNBOOK's pin is the release the lab builds
    for c in ("istio-base", "istiod"):
        assert yaml.safe_load((charts / c / "Chart.yaml").read_text(encoding="utf-8"))["version"] == DEV_CHART_VERSION
        assert chart_version(charts / c) == release

    for example, backend, mesh in (("outposts", "istio", ["istio-base", "istiod"]),
                                   ("local-zones-hashicups", "consul-enterprise", ["consul"])):
        plan = _plan(examples_dir, example, backend, tmp_path / example)[0]
        rels = helm_releases(plan)
        nth = ["aws-node-termination-handler"] if example == "outposts" else []
        assert [r.release for r in rels] == ["aws-ebs-csi-driver", "aws-load-balancer-controller", *nth, *mesh]
        runbook = (plan / "RUNBOOK.md").read_text(encoding="utf-8")
        for r in rels[1:]:
            assert r.source in runbook, r.source  # the very line the RUNBOOK shows
            files = [r.args[i + 1] for i, a in enumerate(r.args) if a == "-f"]
            assert all(Path(f).is_file() and Path(f).is_relative_to(plan) for f in files), r.args
            assert not any("$" in a for a in r.args), r.args
            assert r.pinned == chart_version(charts / r.chart), (r.release, r.pinned)
        lbc = next(r for r in rels if r.release == "aws-load-balancer-controller")
        assert f"vpcId={LAB_VARIABLES['VPC_ID']}" in lbc.args


def test_the_post_renderer_drops_webhook_configurations_only(tmp_path: Path) -> None:
    import subprocess
    import sys

    import yaml

    docs = [
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "hook"}},
        {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingWebhookConfiguration",
         "metadata": {"name": "inject"}, "webhooks": []},
        {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration",
         "metadata": {"name": "validate"}, "webhooks": []},
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "ctl"}, "spec": {"replicas": 2}},
    ]
    dropped = tmp_path / "dropped"
    res = subprocess.run([sys.executable, "-m", "edgewise.verify.postrender", str(dropped)],
                         input=yaml.safe_dump_all(docs), capture_output=True, text=True, check=True)
    out = list(yaml.safe_load_all(res.stdout))
    assert out == [docs[0], docs[3]]
    assert dropped.read_text(encoding="utf-8").split() == ["Mutating/inject", "Validating/validate"]


def test_the_dns_step_is_named_as_skipped_only_when_the_plan_has_one(examples_dir: Path, tmp_path: Path) -> None:
    plan, specs = _plan(examples_dir, "wavelength", "kubernetes", tmp_path)
    notes = skipped_steps(plan)
    templates = sorted(p.parent.name for p in plan.glob("apps/*/dns.cfn.yaml"))
    assert templates and sorted(n.split("'")[1] for n in notes) == [f"dns-{a}" for a in templates]
    assert all("not carried out" in n and "edgewise apply" in n for n in notes)
    # the topology alone (no application, so no ALB): no DNS step, nothing to say
    docs = [d for d in yaml.safe_load_all(specs[0].read_text()) if d and d.get("kind") != "Application"]
    only = tmp_path / "only" / "topology.yaml"
    only.parent.mkdir()
    only.write_text(yaml.safe_dump_all(docs))
    plain = tmp_path / "plain"
    run_plan([only], plain, with_simulation=False)
    assert skipped_steps(plain) == [] and not list(plain.glob("apps/*/dns.cfn.yaml"))
