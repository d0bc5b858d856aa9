"""The Route 53 records over an application's ALBs (``apps/<app>/dns.cfn.yaml``) at any
number of edge zones: split into stacks within every CloudFormation quota when one
template would not fit, each record in exactly one stack, a zone's stack independent of
the other zones, each stack deployed with only its own parameters; plan's own check and
``edgewise check DIR`` read every DNS template.

The topologies are the benchmark generator's (``benchmarks/generate.py``): three Local
Zones to a Wavelength Zone, an application with an internet-facing ALB per site.
"""

from __future__ import annotations

import copy
import json
import shutil
import sys
import tempfile
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from cfnlint.api import ManualArgs, lint
from click.testing import CliRunner

from edgewise.cfnlimits import MAX_INLINE_TEMPLATE_BYTES, QUOTAS
from edgewise.cli import cli
from edgewise.plan.apps import AppPlan, plan_application
from edgewise.plan.apps import plan as app_plan_module
from edgewise.plan.apps.ingress import dns_records, dns_template
from edgewise.plan.artifacts import render_tree
from edgewise.plan.cluster.cfnsplit import MARGIN, Part, zone_bucket
from edgewise.plan.cluster.steps import DeployStack, DeployStacks, runbook_from_json, stack_deploys
from edgewise.spec import load_spec
from edgewise.topology import build_topology
from edgewise.workflow import PlanRefused, run_plan

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks.generate import spec_documents  # noqa: E402

ZONES = 200


def _write(tmp: Path, name: str, docs: list[dict[str, Any]]) -> Path:
    path = tmp / f"{name}.yaml"
    path.write_text(yaml.safe_dump_all(docs, sort_keys=False))
    return path


def _docs(zones: int = ZONES, dns: str | None = None) -> list[dict[str, Any]]:
    docs = spec_documents(zones, 4)
    if dns is not None:
        docs[1]["spec"]["dns"] = dns
    return docs


@cache
def _app_plan(text: str) -> tuple[AppPlan, dict[str, dict[str, Any]]]:
    """The application plan of a spec (its YAML text), and its DNS templates by path."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "spec.yaml"
        path.write_text(text)
        spec = load_spec(path)
    topo = build_topology(spec)
    plan = plan_application(topo, spec.applications[0][0])
    files = render_tree(plan.artifacts)
    dns = {p: yaml.safe_load(t) for p, t in files.items() if p.startswith("apps/") and p.endswith(".cfn.yaml")}
    return plan, dns


def app_plan(docs: list[dict[str, Any]]) -> tuple[AppPlan, dict[str, dict[str, Any]]]:
    return _app_plan(yaml.safe_dump_all(docs, sort_keys=False))


def _single(plan_it: Any) -> tuple[AppPlan, str]:
    """``plan_it()``'s application plan, and the one template ``dns_template`` (what plan
    wrote before it split the records) makes from the same sites."""
    seen: list[tuple[Any, Any, Any]] = []
    split = app_plan_module.dns_parts

    def spy(t: Any, a: Any, sites: Any) -> list[Part]:
        seen.append((t, a, sites))
        return split(t, a, sites)

    app_plan_module.dns_parts = spy
    try:
        plan = plan_it()
    finally:
        app_plan_module.dns_parts = split
    return plan, dns_template(*seen[0])


@cache
def _whole_text(text: str) -> str:
    """The single template of a spec (its YAML text)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "spec.yaml"
        path.write_text(text)
        spec = load_spec(path)
    return _single(lambda: plan_application(build_topology(spec), spec.applications[0][0]))[1]


def _whole(docs: list[dict[str, Any]]) -> dict[str, Any]:
    return dict(yaml.safe_load(_whole_text(yaml.safe_dump_all(docs, sort_keys=False))))


def _refs(value: Any, out: set[str]) -> None:
    if isinstance(value, dict):
        if isinstance(value.get("Ref"), str):
            out.add(value["Ref"])
        if "Fn::Sub" in value:
            text = value["Fn::Sub"]
            out.update(part.split("}")[0] for part in str(text).split("${")[1:])
        for v in value.values():
            _refs(v, out)
    elif isinstance(value, list):
        for v in value:
            _refs(v, out)


@pytest.mark.parametrize("dns", ["geoproximity", "weighted", "failover"])
def test_every_dns_stack_is_within_every_quota_and_holds_each_record_once(dns: str) -> None:
    docs = _docs(dns=dns)
    plan, tpls = app_plan(docs)
    whole = _whole(docs)
    # the single template is over the parameter quota: that is what is split
    assert len(whole["Parameters"]) > 200
    assert len(tpls) > 2 and len(plan.dns_stacks) == len(tpls)
    for path, body in tpls.items():
        for section, most in QUOTAS:
            assert len(body.get(section) or {}) <= most * MARGIN, (path, section)
        # every parameter a stack declares is one its records or outputs use, and it
        # uses no other (the stacks refer to nothing in one another)
        used: set[str] = set()
        _refs(body["Resources"], used)
        _refs(body.get("Outputs") or {}, used)
        assert set(body.get("Parameters") or {}) == used - {"AWS::Region", "AWS::StackName"}, path
        assert not any("Fn::ImportValue" in str(r) for r in body["Resources"].values())
    # each record, parameter declaration and output exactly once, as the single template has it
    records = [(lid, r) for body in tpls.values() for lid, r in body["Resources"].items()]
    assert sorted(lid for lid, _ in records) == sorted(whole["Resources"])
    for lid, r in records:
        want = copy.deepcopy(whole["Resources"][lid])
        want.pop("DependsOn", None)  # across stacks the deploy order stands for it
        got = dict(r)
        got.pop("DependsOn", None)
        assert got == want, lid
    outputs = [k for body in tpls.values() for k in body.get("Outputs") or {}]
    assert sorted(outputs) == sorted(whole["Outputs"])
    declared = {k: v for body in tpls.values() for k, v in (body.get("Parameters") or {}).items()}
    assert declared == whole["Parameters"]
    # the Region's record stays in the base stack; an edge zone's records are in the stack
    # of its name's hash bucket, and a failover PRIMARY in the last stack
    site_of = {p.dns_name_param: p.site for p in plan.dns}
    base = tpls[plan.dns_stacks[0].path]
    region = "RecordSecondary" if dns == "failover" else "RecordRegion"
    assert region in base["Resources"]
    for s in plan.dns_stacks[1:]:
        if not s.zones:
            assert dns == "failover" and s is plan.dns_stacks[-1] and s.path.endswith("/dns-failover.cfn.yaml")
            assert list(tpls[s.path]["Resources"]) == ["RecordPrimary"]
            continue
        assert all(s.path.endswith(f"/dns-edge-{zone_bucket(z):02d}.cfn.yaml") for z in s.zones), s.path
        for lid, r in tpls[s.path]["Resources"].items():
            param = r["Properties"]["AliasTarget"]["DNSName"]["Ref"]
            assert site_of[param] in s.zones, (s.path, lid)
    # within each failover or weighted record name, set identifiers stay unique across stacks
    idents = [(str(r["Properties"]["Name"]), r["Properties"].get("SetIdentifier")) for _, r in records
              if "SetIdentifier" in r["Properties"]]
    assert len(idents) == len(set(idents))


@pytest.mark.parametrize(("example", "dns"), [
    ("local-zones-hashicups", None), ("local-zones-hashicups", "failover"), ("local-zones-hashicups", "weighted"),
    ("wavelength", None), ("outposts", None), ("bench-60", None), ("bench-60", "failover")])
def test_small_plans_keep_their_single_template_byte_for_byte(example: str, dns: str | None,
                                                              tmp_path: Path) -> None:
    """Up to about 79 ALBs the records are one stack, ``dns.cfn.yaml`` exactly as the
    single template was written (60 edge zones of the benchmark: 61 ALBs, 139 parameters)."""
    if example.startswith("bench-"):
        spec = load_spec(_write(tmp_path, "bench", _docs(60, dns)))
    else:
        spec = load_spec(ROOT / "examples" / example)
    app = spec.applications[0][0]
    if dns is not None:
        data = app.model_dump(by_alias=True, mode="json", exclude_none=True)
        data["spec"]["dns"] = dns
        app = type(app).model_validate(data)
    topo = build_topology(spec)
    plan, single = _single(lambda: plan_application(topo, app))
    files = render_tree(plan.artifacts)
    assert [p for p in files if p.endswith(".cfn.yaml")] == [f"apps/{plan.app}/dns.cfn.yaml"]
    assert len(plan.dns_stacks) == 1 and plan.dns_stacks[0].stack == f"{topo.name}-{plan.app}-dns"
    assert files[f"apps/{plan.app}/dns.cfn.yaml"] == single
    assert not single.startswith("---")


def _stack_of(docs: list[dict[str, Any]]) -> dict[str, str]:
    """Edge zone -> the DNS template file that holds its records."""
    plan, tpls = app_plan(docs)
    out: dict[str, str] = {}
    for path, body in tpls.items():
        for r in body["Resources"].values():
            alias = r["Properties"].get("AliasTarget", {}).get("DNSName", {})
            param = alias.get("Ref", "") if isinstance(alias, dict) else ""
            for p in plan.dns:
                if param == p.dns_name_param and p.site != "region":
                    assert out.get(p.site, path) == path, p.site  # a zone's records in one stack
                    out[p.site] = path
    return out


def test_adding_or_removing_a_zone_moves_no_other_zones_records() -> None:
    """A record moved between stacks is deleted by one and created by the other (Route 53
    refuses the create while the old one exists): a zone's stack must not depend on the
    other zones. A zone is added at the front of the list and one removed from the middle."""
    docs = _docs()
    before = _stack_of(docs)
    assert len(set(before.values())) > 2 and len(before) == ZONES
    grown = copy.deepcopy(docs)
    zones = grown[0]["spec"]["zones"]
    new = copy.deepcopy(zones[2])
    new["name"] = "us-east-1-bench-900a"
    zones.insert(2, new)  # the first edge zone
    gone = zones.pop(2 + ZONES // 2)["name"]
    after = _stack_of(grown)
    assert "us-east-1-bench-900a" in after and gone not in after
    kept = set(before) & set(after)
    assert len(kept) == ZONES - 1
    assert {z: after[z] for z in kept} == {z: before[z] for z in kept}


@cache
def _planned(tmp: str, dns: str) -> tuple[Any, Path]:
    spec = _write(Path(tmp), f"bench-{dns}", _docs(dns=dns))
    out = Path(tmp) / f"plan-{dns}"
    return run_plan([spec], out, with_simulation=False, fork=False), out


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(tmp_path_factory.mktemp("dns"))


@pytest.mark.parametrize("dns", ["geoproximity", "failover"])
def test_the_dns_step_deploys_every_stack_with_only_its_parameters(scratch: str, dns: str) -> None:
    plan, _out = _planned(scratch, dns)
    assert plan.error_count == 0
    ap = plan.app_plans[0]
    rb = runbook_from_json(plan.files["runbook.json"])
    step = rb.step("dns-bench")
    deploys = stack_deploys(step.actions)
    assert [(d.stack, d.template) for d in deploys] == [(s.stack, s.path) for s in ap.dns_stacks]
    # the stacks import nothing from one another: the base stack first (a deployment made
    # before the split holds the edge records there, and its update deletes them before
    # the edge stacks make them again), then every edge stack at once, then (failover)
    # the PRIMARY's, an alias of the name the edge stacks' records make
    waves = [list(a.stacks) if isinstance(a, DeployStacks) else [a] for a in step.actions
             if isinstance(a, DeployStack | DeployStacks)]
    assert waves[0] == [deploys[0]]
    edge = {d.stack for d in deploys if "edge-" in d.template}
    assert edge and {d.stack for d in waves[1]} == edge
    if dns == "failover":
        assert [len(w) for w in waves] == [1, len(deploys) - 2, 1]
        assert waves[2][0].template == "apps/bench/dns-failover.cfn.yaml"
        assert edge == {d.stack for d in deploys if "EdgeRecord" in plan.files[d.template]}
    else:
        assert [len(w) for w in waves] == [1, len(deploys) - 1]
    assert deploys[0].stack == "bench-200x4-bench-dns" and deploys[0].template == "apps/bench/dns.cfn.yaml"
    captured = {a.var for a in step.actions if hasattr(a, "var")}
    for d in deploys:
        body = yaml.safe_load(plan.files[d.template])
        params = body.get("Parameters") or {}
        given = [k for k, _ in d.parameters]
        assert len(given) == len(set(given))
        # only what the template declares, and everything it has no default for
        assert set(given) <= set(params), d.stack
        assert {k for k, v in params.items() if "Default" not in v} <= set(given), d.stack
        # every value is a variable an earlier line of the step sets (or the hosted zone's)
        for _k, v in d.parameters:
            for var in [w.split("}")[0].split('"')[0].split(".")[0] for w in v.split("$")[1:]]:
                assert var in captured | {"HOSTED_ZONE_ID"}, (d.stack, v)
        size = len(plan.files[d.template].encode())
        assert bool(d.s3_bucket) == (size > MAX_INLINE_TEMPLATE_BYTES)
    # the clean-up deletes them first, in reverse
    deletes = [a.line.split("--stack-name ")[1].split()[0] for a in rb.step("cleanup").actions
               if hasattr(a, "line") and "delete-stack" in a.line]
    assert deletes[:len(deploys)] == [d.stack for d in reversed(deploys)]
    # the RUNBOOK says how the records are split, and names the failover stack
    text = plan.files["RUNBOOK.md"]
    assert f"the records are {len(deploys)} stacks" in text
    assert ("the failover PRIMARY" in text) == (dns == "failover")


def test_split_dns_templates_pass_cfn_lint(scratch: str) -> None:
    """The base, one edge group (with a carrier-facing record) and the failover PRIMARY's stack."""
    plan, _ = _planned(scratch, "failover")
    paths = [s.path for s in plan.app_plans[0].dns_stacks]
    group = next(p for p in paths if "CarrierRecord" in plan.files[p])
    for path in (paths[0], group, paths[-1]):
        matches = lint(plan.files[path], config=ManualArgs(regions=["us-east-1"]))
        assert not matches, (path, [str(m) for m in matches])


def test_plan_refuses_an_over_quota_dns_template_with_its_line(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """With the split switched off, plan's own check sees the single template over the
    parameter quota (EW122, an error) and points at its Parameters section."""
    spec = _write(tmp_path, "spec", _docs())
    monkeypatch.setattr(app_plan_module, "dns_parts", lambda t, a, s: [Part("", dns_records(t, a, s)[0])])
    for fork in (False, True):
        with pytest.raises(PlanRefused) as refused:
            run_plan([spec], tmp_path / "out", with_simulation=False, fork=fork)
        found = [f for f in refused.value.result.findings if f.rule == "EW122"]
        assert [(f.file, f.message.split(";")[0]) for f in found] == [
            ("apps/bench/dns.cfn.yaml", "the template declares 454 parameters")]
        text = refused.value.result.files["apps/bench/dns.cfn.yaml"]
        assert text.splitlines()[found[0].line - 1] == "Parameters:"
        assert not (tmp_path / "out").exists()


def test_check_of_a_plan_directory_reads_its_dns_templates(scratch: str) -> None:
    """``edgewise check DIR`` reads the DNS templates beside each application's
    kustomization: clean as plan wrote them, EW122 once the single over-quota template is
    put back in their place."""
    _plan, out = _planned(scratch, "geoproximity")
    runner = CliRunner()
    r = runner.invoke(cli, ["check", str(out), "--select", "EW122,EW123", "--format", "json"])
    assert r.exit_code == 0, r.output
    findings = json.loads(r.stdout)["findings"]
    assert findings and all("/cluster/" in f["file"] for f in findings)  # the large Wavelength template
    assert not [f for f in findings if f["rule"] == "EW122"]
    spec_text = yaml.safe_dump_all(_docs(dns="geoproximity"), sort_keys=False)
    bad = out.parent / "bad-plan"
    shutil.copytree(out, bad)
    for f in (bad / "apps" / "bench").glob("dns*.cfn.yaml"):
        f.unlink()
    (bad / "apps" / "bench" / "dns.cfn.yaml").write_text(_whole_text(spec_text))
    r = runner.invoke(cli, ["check", str(bad), "--select", "EW122,EW123", "--format", "json"])
    assert r.exit_code == 1, r.output
    found = {(f["rule"], Path(f["file"]).relative_to(bad).as_posix(), f["line"])
             for f in json.loads(r.stdout)["findings"]}
    assert ("EW122", "apps/bench/dns.cfn.yaml", 3) in found  # line 3: Parameters
    assert ("EW123", "apps/bench/dns.cfn.yaml", 1) in found
