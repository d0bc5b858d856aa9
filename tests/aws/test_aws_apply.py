"""edgewise apply against the emulated account: the CloudFormation change sets run in moto;
eksctl, helm and kubectl are FakeTools (fake_tools.py), named as such."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from edgewise.aws.apply import STATE_FILE, ApplyFailed, ApplyResult, apply_plan
from edgewise.aws.session import Aws
from edgewise.cli import cli
from edgewise.plan.cluster.steps import Capture, runbook_from_json
from edgewise.workflow import run_plan

from .fake_tools import FakeTools

ROOT = Path(__file__).resolve().parents[2]
SECRET = "testing-secret-never-printed"


@pytest.fixture(scope="module")
def plans(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("plans")
    out = {}
    for name in ("wavelength", "local-zones-hashicups"):
        run_plan([ROOT / "examples" / name], base / name, with_simulation=False)
        out[name] = base / name
    return out


def fresh(plans: dict[str, Path], name: str, tmp_path: Path) -> Path:
    out = tmp_path / name
    shutil.copytree(plans[name], out)
    return out


def hosted_zone(name: str = "example.com") -> str:
    """The emulated account's public hosted zone ``name`` (made on first use): its id."""
    import boto3

    r53 = boto3.client("route53", region_name="us-east-1")
    for z in r53.list_hosted_zones()["HostedZones"]:
        if z["Name"].rstrip(".") == name:
            return str(z["Id"]).rsplit("/", 1)[-1]
    zone = r53.create_hosted_zone(Name=name, CallerReference=name)["HostedZone"]
    return str(zone["Id"]).rsplit("/", 1)[-1]


def run(plan: Path, tools: FakeTools, log: list[str] | None = None) -> ApplyResult:
    rb = runbook_from_json((plan / "runbook.json").read_text())
    return apply_plan(plan, Aws(rb.region), tools, poll=0.01, timeout=30,
                      log=log.append if log is not None else lambda _m: None, hosted_zone_id=hosted_zone())


def stacks(aws: Any, region: str) -> dict[str, dict[str, Any]]:
    cfn = aws.client("cloudformation", region)
    return {s["StackName"]: s for s in cfn.describe_stacks()["Stacks"]}


def change_sets(aws: Any, region: str) -> int:
    cfn = aws.client("cloudformation", region)
    return sum(len(cfn.list_change_sets(StackName=name)["Summaries"]) for name in stacks(aws, region))


@pytest.fixture
def cli_tools(monkeypatch: pytest.MonkeyPatch) -> FakeTools:
    """`edgewise apply` from the command line, with FakeTools behind its step runner."""
    from edgewise.aws.apply import ShellRunner

    tools = FakeTools("us-east-1")
    monkeypatch.setattr(ShellRunner, "run", lambda _self, script, **kw: tools.run(script, **kw))
    # the plans put DNS records over their ALBs; these tests stop before that step
    monkeypatch.setenv("HOSTED_ZONE_ID", "Z0NOTUSEDINTHESETESTS")
    return tools


def test_apply_runs_the_stacks_through_moto_to_completion(aws: Any, plans: dict[str, Path], tmp_path: Path) -> None:
    plan = fresh(plans, "wavelength", tmp_path)
    tools, log = FakeTools("us-east-1"), []
    result = run(plan, tools, log)
    steps = [s.key for s in runbook_from_json((plan / "runbook.json").read_text()).steps if s.apply]
    assert result.done == steps and result.skipped == []
    st = stacks(aws, "us-east-1")
    assert st["wavelength-network"]["StackStatus"] == "CREATE_COMPLETE"
    assert st["wavelength-wavelength-nodes"]["StackStatus"] == "CREATE_COMPLETE"
    outputs = {o["OutputKey"]: o["OutputValue"] for o in st["wavelength-network"]["Outputs"]}
    # the network really exists in the emulator, in the Wavelength Zones too
    ec2 = aws.client("ec2", "us-east-1")
    subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [outputs["VpcId"]]}])["Subnets"]
    assert {"us-east-1a", "us-east-1b", "us-east-1-wl1-bos-wlz-1", "us-east-1-wl1-nyc-wlz-1"} <= {
        s["AvailabilityZone"] for s in subnets}
    assert ec2.describe_carrier_gateways()["CarrierGateways"][0]["VpcId"] == outputs["VpcId"]
    # eksctl got the rendered config with the stack's ids, then the cluster exists
    rendered = yaml.safe_load((plan / "cluster" / "eksctl.rendered.yaml").read_text())
    assert rendered["vpc"]["id"] == outputs["VpcId"]
    assert set(rendered["vpc"]["controlPlaneSubnetIDs"]) == {outputs["SubnetAzAId"], outputs["SubnetAzBId"]}
    eks = aws.client("eks", "us-east-1").describe_cluster(name="wavelength")["cluster"]
    # the Wavelength node groups: one Auto Scaling group per zone, at the desired size
    asgs = aws.client("autoscaling", "us-east-1").describe_auto_scaling_groups()["AutoScalingGroups"]
    assert sorted(int(g["DesiredCapacity"]) for g in asgs) == [2, 2]
    assert any("change set edgewise-" in m and "wavelength-wavelength-nodes" in m for m in log)
    assert any("Add     CarrierGateway (AWS::EC2::CarrierGateway)" in m for m in log)
    # the wavelength stack got the cluster's attributes; helm got the VPC id
    helm_env = next(e for e in tools.envs if e.get("VPC_ID"))
    assert helm_env["VPC_ID"] == outputs["VpcId"]
    assert any(ln.startswith("helm upgrade --install aws-load-balancer-controller") for ln in tools.lines)
    assert eks["endpoint"] and tools.lines.index("kubectl apply -k apps/two-tier") > tools.lines.index(
        "eksctl create cluster -f cluster/eksctl.rendered.yaml")
    assert any(m.startswith("  verified: us-east-1a: 2, us-east-1b: 2, us-east-1-wl1-bos-wlz-1: 2") for m in log)
    state = json.loads((plan / STATE_FILE).read_text())
    assert sorted(state["done"]) == sorted(steps)
    # credentials are read from the chain only: never logged, written or handed to the tools
    everything = "\n".join(log) + (plan / STATE_FILE).read_text() + json.dumps(tools.envs)
    assert SECRET not in everything and "AWS_SECRET_ACCESS_KEY" not in everything

    # a rerun finds everything done: no change set, no tool runs
    before = change_sets(aws, "us-east-1")
    tools2 = FakeTools("us-east-1")
    again = run(plan, tools2)
    assert again.done == [] and again.skipped == steps
    # only the reads that set variables for later steps (captures) run again
    rb = runbook_from_json((plan / "runbook.json").read_text())
    captures = [a.command for st in rb.steps if st.apply for a in st.actions if isinstance(a, Capture)]
    assert tools2.lines == captures and change_sets(aws, "us-east-1") == before


def test_rerun_after_a_failure_continues_where_it_stopped(aws: Any, plans: dict[str, Path], tmp_path: Path) -> None:
    plan = fresh(plans, "wavelength", tmp_path)
    with pytest.raises(ApplyFailed) as err:
        run(plan, FakeTools("us-east-1", fail="eksctl create cluster"))
    msg = str(err.value)
    assert re.search(r"\d/\d+ Create the cluster with eksctl: step 'cluster' failed \(exit 1\)", msg)
    assert "FakeTools: eksctl failed" in msg
    assert "finished steps: opt-in, network" in msg and "stack wavelength-network: CREATE_COMPLETE" in msg
    assert "rerun `edgewise apply` to continue from this step" in msg
    assert sorted(json.loads((plan / STATE_FILE).read_text())["done"]) == ["network", "opt-in"]
    network_events = len(aws.client("cloudformation", "us-east-1").describe_stack_events(
        StackName="wavelength-network")["StackEvents"])
    tools, log = FakeTools("us-east-1"), []
    result = run(plan, tools, log)
    assert result.skipped == ["opt-in", "network"]
    assert result.done[0] == "cluster" and result.done[-1] == "private-endpoint"
    # the network stack was not touched again; the cluster step still got its outputs
    assert len(aws.client("cloudformation", "us-east-1").describe_stack_events(
        StackName="wavelength-network")["StackEvents"]) == network_events
    assert "eksctl create cluster -f cluster/eksctl.rendered.yaml" in tools.lines
    assert stacks(aws, "us-east-1")["wavelength-wavelength-nodes"]["StackStatus"] == "CREATE_COMPLETE"


def test_cluster_that_exists_is_not_created_again(aws: Any, plans: dict[str, Path], tmp_path: Path) -> None:
    """Without the state file (plan written again), eksctl create cluster is skipped for an
    ACTIVE cluster and the stacks' change sets come back empty."""
    plan = fresh(plans, "wavelength", tmp_path)
    tools = FakeTools("us-east-1")  # the fake cluster's nodes live in it
    run(plan, tools)
    (plan / STATE_FILE).unlink()
    tools.lines.clear()
    log: list[str] = []
    run(plan, tools, log)
    assert "eksctl create cluster -f cluster/eksctl.rendered.yaml" not in tools.lines
    assert "  stack wavelength-network: no changes" in log
    assert "  stack wavelength-wavelength-nodes: no changes" in log


def test_opt_in_then_local_zone_stacks(aws: Any, plans: dict[str, Path], tmp_path: Path) -> None:
    plan = fresh(plans, "local-zones-hashicups", tmp_path)
    groups = {z.group: z.opt_in for z in aws.account.edge_zones["us-west-2"]}
    assert groups["us-west-2-las-1"] == "not-opted-in"
    log: list[str] = []
    run(plan, FakeTools("us-west-2"), log)
    now = {z.group: z.opt_in for z in aws.account.edge_zones["us-west-2"]}
    assert now["us-west-2-las-1"] == "opted-in"
    assert "  zone group us-west-2-las-1: opted in" in log
    assert "  zone group us-west-2-lax-1: already opted in" in log
    assert aws.account.calls.count("ModifyAvailabilityZoneGroup") == 1
    assert stacks(aws, "us-west-2")["local-zones-network"]["StackStatus"] == "CREATE_COMPLETE"


def test_failed_stack_is_reported_kept_and_not_marked_done(aws: Any, plans: dict[str, Path], tmp_path: Path,
                                                           cli_tools: FakeTools) -> None:
    """A stack whose subnet goes to a zone the account does not have. (moto fails the change
    set's execution at once; AWS would fail the stack a little later: apply handles both.)"""
    plan = fresh(plans, "wavelength", tmp_path)
    tpl = plan / "cluster" / "network.cfn.yaml"
    tpl.write_text(tpl.read_text().replace("AvailabilityZone: us-east-1-wl1-nyc-wlz-1",
                                           "AvailabilityZone: us-east-1-wl1-xyz-wlz-1"))
    r = CliRunner().invoke(cli, ["apply", str(plan), "--yes", "--poll-interval", "0.01"])
    assert r.exit_code == 1, r.output
    assert "executing the change set of stack wavelength-network failed" in r.stderr
    assert "us-east-1-wl1-xyz-wlz-1" in r.stderr  # the reason AWS gave
    assert "aws cloudformation delete-stack --stack-name wavelength-network --region us-east-1" in r.stderr
    assert "stopped in step 'network'; finished steps: opt-in" in r.stderr
    assert "wavelength-network" in stacks(aws, "us-east-1")  # kept for inspection
    assert json.loads((plan / STATE_FILE).read_text())["done"].keys() == {"opt-in"}


def test_dry_run_prints_every_action_and_changes_nothing(aws: Any, plans: dict[str, Path], tmp_path: Path) -> None:
    plan = fresh(plans, "local-zones-hashicups", tmp_path)
    r = CliRunner().invoke(cli, ["apply", str(plan), "--dry-run"])
    assert r.exit_code == 0, r.output
    rb = runbook_from_json((plan / "runbook.json").read_text())
    applied = {line for step in rb.steps if step.apply for a in step.actions for line in a.render()}
    cleanup = {line for a in rb.step("cleanup").actions for line in a.render()} - applied
    assert applied and cleanup
    for line in applied:
        assert line in r.stderr, line
    for line in cleanup:  # clean-up is never run by apply
        assert line not in r.stderr, line
    assert "modify-availability-zone-group --group-name us-west-2-las-1" in r.stderr
    assert aws.account.calls == [] and stacks(aws, "us-west-2") == {}
    assert not (plan / STATE_FILE).exists()


def test_throttled_midway_exits_2_and_reports_what_was_applied(aws: Any, plans: dict[str, Path],
                                                                tmp_path: Path, cli_tools: FakeTools) -> None:
    plan = fresh(plans, "wavelength", tmp_path)
    with pytest.raises(ApplyFailed):
        run(plan, FakeTools("us-east-1", fail="eksctl create cluster"))
    aws.account.throttle.add("DescribeStacks")
    r = CliRunner().invoke(cli, ["apply", str(plan), "--yes", "--poll-interval", "0.01"])
    assert r.exit_code == 2
    assert "AWS throttled DescribeStacks (Throttling)" in r.stderr
    assert "stopped in step 'cluster'; finished steps: opt-in, network" in r.stderr
    assert SECRET not in r.output + r.stderr


def test_bad_input(aws: Any, plans: dict[str, Path], tmp_path: Path, monkeypatch: Any) -> None:
    r = CliRunner().invoke(cli, ["apply", str(tmp_path / "nope")])
    assert r.exit_code == 2 and "not a directory" in r.stderr
    (tmp_path / "empty").mkdir()
    r = CliRunner().invoke(cli, ["apply", str(tmp_path / "empty")])
    assert r.exit_code == 2 and "no runbook.json" in r.stderr
    plan = fresh(plans, "wavelength", tmp_path)
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    r = CliRunner().invoke(cli, ["apply", str(plan), "--yes"])
    assert r.exit_code == 2 and "no AWS credentials found" in r.stderr
    assert aws.account.calls == [] and not (plan / STATE_FILE).exists()


def test_change_set_not_confirmed_changes_nothing(aws: Any, plans: dict[str, Path], tmp_path: Path,
                                                  cli_tools: FakeTools) -> None:
    plan = fresh(plans, "wavelength", tmp_path)
    r = CliRunner().invoke(cli, ["apply", str(plan), "--poll-interval", "0.01"])  # no --yes, no terminal
    assert r.exit_code == 1
    assert "not confirmed: stdin is not a terminal (pass --yes)" in r.stderr
    assert "not executed (declined); nothing changed" in r.stderr
    assert aws.client("ec2", "us-east-1").describe_vpcs(
        Filters=[{"Name": "tag:Name", "Values": ["wavelength"]}])["Vpcs"] == []
