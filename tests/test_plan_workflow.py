"""`edgewise plan` end to end: what it writes, that it writes it atomically and
identically, that it refuses to write when check finds errors, and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import EXAMPLES_DIR
from edgewise import check as check_pkg
from edgewise.check import Finding, Report, Severity
from edgewise.cli import cli
from edgewise.workflow import PlanRefused, plan_scenarios, run_plan

EXAMPLES = sorted(p.name for p in EXAMPLES_DIR.iterdir() if p.is_dir())


def tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("example", EXAMPLES)
def test_plan_writes_the_whole_deployment_identically_twice(example: str, tmp_path: Path) -> None:
    runner = CliRunner()
    first, second = tmp_path / "a", tmp_path / "b"
    for out in (first, second):
        res = runner.invoke(cli, ["plan", str(EXAMPLES_DIR / example), "-o", str(out), "-q"])
        assert res.exit_code == 0, res.output
    a, b = tree(first), tree(second)
    assert a == b, "two runs of plan must write byte-identical trees"
    for must in ("RUNBOOK.md", "cluster/eksctl.yaml", "cluster/network.cfn.yaml",
                 "cluster/addons/coredns-patch.yaml", "report.json", "report.md"):
        assert must in a, f"{must} missing from the plan of {example}"
    assert any(k.startswith("apps/") and k.endswith("kustomization.yaml") for k in a)
    assert ("cluster/wavelength-nodes.cfn.yaml" in a) == (example == "wavelength")
    report = json.loads(a["report.json"])
    assert report["check"]["counts"]["error"] == 0
    assert report["simulation"]["strategies"], "examples are small: plan simulates them"
    assert "report-latency.svg" in a
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "no temporary directory left behind"


def test_plan_summary_names_routes_and_simulation(tmp_path: Path) -> None:
    res = CliRunner().invoke(cli, ["plan", str(EXAMPLES_DIR / "local-zones-hashicups"), "-o", str(tmp_path / "o")])
    assert res.exit_code == 0, res.output
    out = res.stdout
    assert "routes verified" in out
    assert "product-api -> postgres: region.hashicups-region" in out
    assert "failover region.hashicups-region" in out
    for strategy in ("flat", "prefer-close", "namespace-per-zone", "edgewise"):
        assert strategy in out


def test_replanning_replaces_the_directory_whole(tmp_path: Path) -> None:
    out = tmp_path / "out"
    runner = CliRunner()
    res = runner.invoke(cli, ["plan", str(EXAMPLES_DIR / "wavelength"), "-o", str(out), "-q", "--simulate", "never"])
    assert res.exit_code == 0, res.output
    assert (out / "cluster/wavelength-nodes.cfn.yaml").exists()
    res = runner.invoke(cli, ["plan", str(EXAMPLES_DIR / "outposts"), "-o", str(out), "-q", "--simulate", "never"])
    assert res.exit_code == 0, res.output
    assert not (out / "cluster/wavelength-nodes.cfn.yaml").exists(), "files a plan no longer produces must not linger"
    assert (out / "RUNBOOK.md").exists()


def test_bad_input_exits_2_and_writes_nothing(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text((EXAMPLES_DIR / "wavelength" / "topology.yaml").read_text()
                   .replace("us-east-1-wl1-nyc-wlz-1", "us-east-1-wl1-nyc-wlz1"))
    out = tmp_path / "out"
    res = CliRunner().invoke(cli, ["plan", str(EXAMPLES_DIR / "outposts"), "-o", str(out), "-q",
                                   "--simulate", "never"])
    assert res.exit_code == 0, res.output
    previous = tree(out)
    res = CliRunner().invoke(cli, ["plan", str(bad), "-o", str(out)])
    assert res.exit_code == 2
    assert "bad.yaml:" in res.output and "did you mean 'us-east-1-wl1-nyc-wlz-1'" in res.output
    assert "Traceback" not in res.output
    assert tree(out) == previous, "the previous output must be untouched"


def test_check_errors_refuse_the_plan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """If check finds an error in what plan generated, nothing is written and exit is 1."""
    real = check_pkg.check_objects

    def with_error(*args: object, **kwargs: object) -> Report:
        report = real(*args, **kwargs)  # type: ignore[arg-type]
        report.findings.append(Finding("apps/x/ns/y.yaml", 3, "EW301", "service-spans-edge-zones",
                                       Severity.ERROR, "Service ns/y", "injected error"))
        return report

    monkeypatch.setattr(check_pkg, "check_objects", with_error)
    out = tmp_path / "out"
    with pytest.raises(PlanRefused) as exc:
        run_plan([EXAMPLES_DIR / "outposts"], out, with_simulation=False)
    assert exc.value.result.error_count == 1
    assert not out.exists()
    res = CliRunner().invoke(cli, ["plan", str(EXAMPLES_DIR / "outposts"), "-o", str(out), "--simulate", "never"])
    assert res.exit_code == 1
    assert "EW301" in res.output and "nothing written" in res.output
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "the files written while check ran are gone"


def test_simulate_never_leaves_simulation_out(tmp_path: Path) -> None:
    res = CliRunner().invoke(cli, ["plan", str(EXAMPLES_DIR / "wavelength"), "-o", str(tmp_path / "o"),
                                   "-q", "--simulate", "never"])
    assert res.exit_code == 0, res.output
    report = json.loads((tmp_path / "o" / "report.json").read_text())
    assert report["simulation"] is None
    assert not (tmp_path / "o" / "report-latency.svg").exists()


def test_plan_scenarios_stay_within_budget() -> None:
    from edgewise.spec import load_spec
    from edgewise.topology import build_topology

    spec = load_spec(EXAMPLES_DIR / "local-zones-hashicups")
    topo = build_topology(spec)
    app = spec.applications[0][0]
    chosen, total = plan_scenarios(topo, app, requests=500)
    assert chosen is None and total > 10, "a small topology simulates every scenario"
    chosen, total = plan_scenarios(topo, app, requests=10**6)
    assert chosen is not None and len(chosen) < total
    assert chosen[0] == "steady" and all(n.startswith("az-lost:") for n in chosen[1:3])
    assert len(set(chosen)) == len(chosen)
