"""The RUNBOOK's DNS step through ``edgewise apply`` against the emulated account.

The emulator has no load balancer controller: FakeTools stands in for it when the
application is applied (one ALB per Ingress, created in moto's elbv2 under the name the
Ingress asks for) and answers the step's ``kubectl wait/get ingress`` lines with those
ALBs' DNS names. The records the DNS stack creates in moto's hosted zone must point at
exactly those ALBs."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from edgewise.aws.apply import STATE_FILE
from edgewise.cli import cli
from edgewise.workflow import run_plan

from .fake_tools import FakeTools
from .test_aws_apply import ROOT, hosted_zone, run
from .test_aws_apply_split import recorded_cfn_calls

ZONE = "example.com"


def _albs(aws: Any, region: str) -> dict[str, dict[str, str]]:
    """The ALBs in the emulator, by name."""
    return {lb["LoadBalancerName"]: lb for lb in aws.client("elbv2", region).describe_load_balancers()["LoadBalancers"]}


def _ingress_albs(plan: Path, app: str) -> dict[str, str]:
    """Namespace of each Ingress of ``app`` -> the ALB name it asks the controller for."""
    out = {}
    for f in sorted((plan / "apps" / app).rglob("*.yaml")):
        for doc in yaml.safe_load_all(f.read_text()):
            if isinstance(doc, dict) and doc.get("kind") == "Ingress":
                meta = doc["metadata"]
                out[meta["namespace"]] = meta["annotations"]["alb.ingress.kubernetes.io/load-balancer-name"]
    return out


def _records(aws: Any, zone_id: str) -> list[dict[str, Any]]:
    r53 = aws.client("route53", "us-east-1")
    sets = r53.list_resource_record_sets(HostedZoneId=zone_id)["ResourceRecordSets"]
    return [r for r in sets if r["Type"] == "A"]


def _name(r: dict[str, Any]) -> str:
    return str(r["Name"]).rstrip(".")


def test_apply_refuses_without_a_hosted_zone_then_publishes_the_albs(
    aws: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan = tmp_path / "wavelength"
    run_plan([ROOT / "examples" / "wavelength"], plan, with_simulation=False, fork=False)
    from edgewise.aws.apply import ShellRunner

    tools = FakeTools("us-east-1")
    monkeypatch.setattr(ShellRunner, "run", lambda _self, script, **kw: tools.run(script, **kw))
    # no hosted zone: refused before anything is done (exit 2), naming the option and the variable
    r = CliRunner().invoke(cli, ["apply", str(plan), "--yes", "--poll-interval", "0.01"])
    assert r.exit_code == 2, r.output
    assert "--hosted-zone-id" in r.stderr and "HOSTED_ZONE_ID" in r.stderr and "dns-two-tier" in r.stderr
    assert aws.account.calls == [] and tools.lines == [] and not (plan / STATE_FILE).exists()
    # the environment variable the RUNBOOK uses does the same as the option
    zone_id = hosted_zone(ZONE)
    monkeypatch.setenv("HOSTED_ZONE_ID", zone_id)
    r = CliRunner().invoke(cli, ["apply", str(plan), "--yes", "--poll-interval", "0.01"])
    assert r.exit_code == 0, r.output
    assert any(ln.startswith("kubectl -n two-tier-region wait ingress/") for ln in tools.lines)

    region = "us-east-1"
    lbs = _albs(aws, region)
    by_ns = _ingress_albs(plan, "two-tier")
    assert set(by_ns.values()) == set(lbs)  # one ALB per Ingress, as the controller makes them
    records = _records(aws, zone_id)
    targets = {(lb["DNSName"].lower(), lb["CanonicalHostedZoneId"]): name for name, lb in lbs.items()}
    pointed = {}
    for rec in records:
        alias = rec["AliasTarget"]
        assert alias["EvaluateTargetHealth"] is True
        key = (alias["DNSName"].rstrip(".").lower(), alias["HostedZoneId"])
        assert key in targets, f"{_name(rec)} points at {key}, which is no ALB of the plan"
        pointed[_name(rec)] = targets[key]
    # the internet name: the Region ALB only (Wavelength ALBs are reached from the carrier's network)
    region_alb = by_ns.pop("two-tier-region")
    internet = [rec for rec in records if _name(rec) == f"two-tier.{ZONE}"]
    assert [(rec["SetIdentifier"], pointed[_name(rec)]) for rec in internet] == [("region", region_alb)]
    # each Wavelength ALB under its own carrier-facing name, below the application's name
    assert by_ns, "the example has Wavelength ALBs"
    for ns, alb in by_ns.items():
        slug = ns.removeprefix("two-tier-")
        assert pointed[f"{slug}.carrier.two-tier.{ZONE}"] == alb
    assert len(records) == 1 + len(by_ns)


def test_failover_records_over_the_local_zone_albs(aws: Any, tmp_path: Path) -> None:
    spec = tmp_path / "spec"
    shutil.copytree(ROOT / "examples" / "local-zones-hashicups", spec)
    app = spec / "hashicups.yaml"
    text = app.read_text()
    assert "\n  ingress: alb\n" in text
    app.write_text(text.replace("\n  ingress: alb\n", "\n  ingress: alb\n  dns: failover\n"))
    plan = tmp_path / "plan"
    run_plan([spec], plan, with_simulation=False, fork=False)
    tools = FakeTools("us-west-2")
    result = run(plan, tools)
    assert "dns-hashicups" in result.done
    assert result.done.index("dns-hashicups") == result.done.index("apps") + 1
    _assert_failover_records(aws, plan)


def test_split_dns_stacks_are_deployed_in_waves_each_with_its_own_albs(
        aws: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Failover records split into stacks: the Region's SECONDARY in the base stack, each
    edge zone's weighted record in its group's stack, the PRIMARY (an alias of the edge
    records' name, which must exist first) in the last. At real quotas that takes about 79
    ALBs, more than the emulator makes in a test's time: the share of each quota a stack
    may use (``cfnsplit.MARGIN``) is shrunk so that the example's three Local Zones split
    (8 parameters a stack; the sizes themselves are held to the quotas in
    tests/test_dns_split.py)."""
    from edgewise.plan.cluster import cfnsplit
    from edgewise.plan.cluster.steps import DeployStack, DeployStacks, runbook_from_json, stack_deploys

    spec = tmp_path / "spec"
    shutil.copytree(ROOT / "examples" / "local-zones-hashicups", spec)
    app = spec / "hashicups.yaml"
    app.write_text(app.read_text().replace("\n  ingress: alb\n", "\n  ingress: alb\n  dns: failover\n"))
    monkeypatch.setattr(cfnsplit, "MARGIN", 0.04)
    plan = tmp_path / "plan"
    run_plan([spec], plan, with_simulation=False, fork=False)
    rb = runbook_from_json((plan / "runbook.json").read_text())
    dns = stack_deploys(rb.step("dns-hashicups").actions)
    assert len(dns) >= 3 and dns[0].template == "apps/hashicups/dns.cfn.yaml"
    assert dns[-1].template == "apps/hashicups/dns-failover.cfn.yaml"
    # the base stack first, then the edge stacks in one wave, the PRIMARY (an alias of the
    # edge records' name) after them
    waves = [[d.stack for d in a.stacks] if isinstance(a, DeployStacks) else [a.stack]
             for a in rb.step("dns-hashicups").actions if isinstance(a, DeployStack | DeployStacks)]
    assert waves == [[dns[0].stack], [d.stack for d in dns[1:-1]], [dns[-1].stack]]
    log: list[str] = []
    result = run(plan, FakeTools("us-west-2"), log)
    assert "dns-hashicups" in result.done
    # reported in the RUNBOOK's order: the base stack, the edge wave's stacks, the PRIMARY's
    created = [m.split("stack ", 1)[1].split(":")[0] for m in log
               if m.startswith("  stack ") and m.endswith("CREATE_COMPLETE")]
    assert [c for c in created if "-hashicups-dns" in c] == [d.stack for d in dns]
    cfn = aws.client("cloudformation", "us-west-2")
    held: dict[str, str] = {}
    for d in dns:
        body = yaml.safe_load((plan / d.template).read_text())
        # each stack got exactly the parameters its template declares, no other ALB's
        got = {p["ParameterKey"] for p in cfn.describe_stacks(StackName=d.stack)["Stacks"][0]["Parameters"]}
        assert got == set(body["Parameters"]), d.stack
        for r in cfn.list_stack_resources(StackName=d.stack)["StackResourceSummaries"]:
            assert r["ResourceStatus"] == "CREATE_COMPLETE"
            held[r["LogicalResourceId"]] = d.stack
    assert held["RecordSecondary"] == dns[0].stack and held["RecordPrimary"] == dns[-1].stack
    assert all(held[k] not in (dns[0].stack, dns[-1].stack) for k in held if k.startswith("EdgeRecord"))
    # every ALB has its record, and the failover pair points where it should
    _assert_failover_records(aws, plan)


def _assert_failover_records(aws: Any, plan: Path) -> None:
    """hashicups' failover records in the hosted zone: the SECONDARY aliases the Region's
    ALB, the PRIMARY the weighted name of the edge ALBs, each of which has one record."""
    lbs = _albs(aws, "us-west-2")
    by_ns = _ingress_albs(plan, "hashicups")
    region_alb = lbs[by_ns.pop("hashicups-region")]
    records = _records(aws, hosted_zone(ZONE))
    name, edge = f"hashicups.{ZONE}", f"edge.hashicups.{ZONE}"
    top = {rec["Failover"]: rec for rec in records if _name(rec) == name}
    assert set(top) == {"PRIMARY", "SECONDARY"}
    sec = top["SECONDARY"]["AliasTarget"]
    assert (sec["DNSName"].rstrip(".").lower(), sec["HostedZoneId"]) == (
        region_alb["DNSName"].lower(), region_alb["CanonicalHostedZoneId"])
    assert top["PRIMARY"]["AliasTarget"]["DNSName"].rstrip(".") == edge
    weighted = [rec for rec in records if _name(rec) == edge]
    assert sorted((rec["AliasTarget"]["DNSName"].rstrip(".").lower(), rec["AliasTarget"]["HostedZoneId"])
                  for rec in weighted) == sorted(
        (lbs[alb]["DNSName"].lower(), lbs[alb]["CanonicalHostedZoneId"]) for alb in by_ns.values())
    assert all(rec["Weight"] == 100 and rec["AliasTarget"]["EvaluateTargetHealth"] for rec in weighted)
    assert len(records) == 2 + len(by_ns)


def test_dns_records_that_move_to_split_stacks_are_removed_before_they_are_made_again(
        aws: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A deployment whose DNS records were one stack, planned again past the split: the
    base stack's update removes the edge records and the new edge stacks make them again.
    The edge stacks are the wave after the base stack, so the update has ended before
    any of them is executed (in the RUNBOOK as in apply)."""
    from edgewise.plan.cluster import cfnsplit

    spec = tmp_path / "spec"
    shutil.copytree(ROOT / "examples" / "local-zones-hashicups", spec)
    first = tmp_path / "one-stack"
    run_plan([spec], first, with_simulation=False, fork=False)
    run(first, FakeTools("us-west-2"))
    monkeypatch.setattr(cfnsplit, "MARGIN", 0.04)
    split = tmp_path / "split"
    run_plan([spec], split, with_simulation=False, fork=False)
    shutil.copy(first / STATE_FILE, split / STATE_FILE)
    calls = recorded_cfn_calls(monkeypatch)
    log: list[str] = []
    result = run(split, FakeTools("us-west-2"), log)
    assert "dns-hashicups" in result.done
    base = "local-zones-hashicups-dns"
    # (the shrunk quota share splits the network too; only the DNS stacks are looked at)
    dns = [(i, op, name) for i, (op, name) in enumerate(calls) if name.startswith(base)]
    executed = [name for _i, op, name in dns if op == "execute_change_set"]
    assert executed[0] == base and len(executed) > 1
    # the base stack's update ended before any other stack of the wave was executed
    done = max(i for i, op, name in dns if op == "describe_stack_events" and name == base)
    assert done < next(i for i, op, name in dns if op == "execute_change_set" and name != base)
    records = _records(aws, hosted_zone(ZONE))
    # every edge zone's record was made again by its new stack (the emulator's update of
    # the base stack also drops its unchanged Region record: it deletes records by name and
    # type, not set identifier, whatever the deploy order; so only the edge records are held)
    made = {r["Properties"]["SetIdentifier"] for path in (split / "apps" / "hashicups").glob("dns-edge-*.cfn.yaml")
            for r in yaml.safe_load(path.read_text())["Resources"].values() if "SetIdentifier" in r["Properties"]}
    assert len(made) == 3 and made <= {r.get("SetIdentifier") for r in records if r["Type"] == "A"}
