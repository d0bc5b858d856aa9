"""edgewise apply of a plan whose CloudFormation is split into stacks, and of one whose
template is too large to pass in a request, against the emulated account (moto on
loopback; eksctl, helm and kubectl are FakeTools).

Splitting needs hundreds of edge zones at CloudFormation's real quotas, more than the
emulator creates in a test's time; the split test shrinks the share of each quota a
stack may use (``cfnsplit.MARGIN``) so that 32 edge zones split the same way. The real
sizes are held to the quotas in tests/test_cfn_split.py.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from edgewise.aws.apply import STATE_FILE, ApplyFailed, apply_plan
from edgewise.aws.session import Aws
from edgewise.cli import cli
from edgewise.plan.cluster import cfnsplit
from edgewise.plan.cluster.steps import DeployStack, DeployStacks, runbook_from_json, stack_deploys
from edgewise.spec import load_spec
from edgewise.topology import build_topology
from edgewise.workflow import run_plan

from .aws_standin import Account, EdgeZone, standin_edge_zones_in_moto
from .fake_tools import FakeTools
from .test_aws_apply import hosted_zone

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from benchmarks.generate import write_spec  # noqa: E402

REGION = "us-east-1"


@contextmanager
def bench_zones_in_account(aws: Any, spec: Path) -> Iterator[None]:
    """The spec's edge zones exist in the emulated account, opted in."""
    topo = build_topology(load_spec(spec))
    zones = [EdgeZone(z.name, f"use1-bench-az{i}", "wavelength-zone" if z.kind.value == "wavelength" else "local-zone",
                      z.group or z.name, f"{REGION}a", "opted-in", ("c5.2xlarge", "t3.xlarge"),
                      nbg=z.network_border_group or "")
             for i, z in enumerate(topo.zones) if not z.is_region]
    # moto makes the Region's default VPC (a /20 per zone of its table, 16 at most) when the
    # Region is first used: before the zones are many
    aws.client("ec2", REGION).describe_vpcs()
    aws.account.edge_zones[REGION] = aws.account.edge_zones.get(REGION, []) + zones
    with standin_edge_zones_in_moto(Account(edge_zones={REGION: zones})):
        yield


def deploy_actions(plan: Path) -> list[DeployStack]:
    rb = runbook_from_json((plan / "runbook.json").read_text())
    return [a for s in rb.steps if s.apply for a in stack_deploys(s.actions)]


def waves(plan: Path) -> list[list[str]]:
    """The stacks of the RUNBOOK's waves of more than one stack."""
    rb = runbook_from_json((plan / "runbook.json").read_text())
    return [[d.stack for d in a.stacks] for s in rb.steps if s.apply for a in s.actions
            if isinstance(a, DeployStacks)]


def recorded_cfn_calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """(operation, StackName) of every CloudFormation call apply makes, in order: the
    client apply uses is wrapped."""
    calls: list[tuple[str, str]] = []
    original = Aws.client

    class Recorder:
        def __init__(self, client: Any) -> None:
            self._client = client

        def __getattr__(self, name: str) -> Any:
            attr = getattr(self._client, name)
            if not callable(attr) or name.startswith("_") or name in ("can_paginate", "get_paginator"):
                return attr

            def call(*args: Any, **kwargs: Any) -> Any:
                calls.append((name, str(kwargs.get("StackName", ""))))
                return attr(*args, **kwargs)
            return call

    def client(self: Aws, service: str) -> Any:
        c = original(self, service)
        return Recorder(c) if service == "cloudformation" else c

    monkeypatch.setattr(Aws, "client", client)
    return calls


def split_plan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    spec = write_spec(tmp_path / "split.yaml", 32, 2)
    monkeypatch.setattr(cfnsplit, "MARGIN", 0.04)  # 20 resources, 8 outputs a stack
    plan = tmp_path / "plan"
    run_plan([spec], plan, with_simulation=False, fork=False)
    return spec, plan


def test_apply_creates_the_split_stacks_in_waves_with_the_imports_resolved(
        aws: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec, plan = split_plan(tmp_path, monkeypatch)
    order = deploy_actions(plan)
    net = [d.stack for d in order if d.template.startswith("cluster/network")]
    wl = [d.stack for d in order if d.template.startswith("cluster/wavelength")]
    dns = [d.stack for d in order if d.template.startswith("apps/")]  # after the applications
    assert len(net) > 3 and len(wl) > 1, (net, wl)  # base, groups (and the S3 endpoint's stack)
    log: list[str] = []
    calls = recorded_cfn_calls(monkeypatch)
    with bench_zones_in_account(aws, spec):
        tools = FakeTools(REGION)
        apply_plan(plan, Aws(REGION), tools, poll=0.01, timeout=60, log=log.append, hosted_zone_id=hosted_zone())
    cfn = aws.client("cloudformation", REGION)
    stacks = {s["StackName"]: s for s in cfn.describe_stacks()["Stacks"]}
    for name in net + wl:
        assert stacks[name]["StackStatus"] == "CREATE_COMPLETE", name
    # every stack's end reported, in the RUNBOOK's order
    created = [m.split("stack ", 1)[1].split(":")[0] for m in log if m.startswith("  stack ")
               and m.endswith("CREATE_COMPLETE")]
    assert created == net + wl + dns
    # the network's groups and the DNS stacks are waves; in each, every change set is made
    # first, then all are executed before apply looks at any of the stacks again, and no
    # stack of the wave is touched before every stack of the waves before it completed
    multi = waves(plan)
    assert [w for w in multi if set(w) <= set(net)] == [net[1:-1]] and any(set(w) <= set(dns) for w in multi)
    for wave in multi:
        mine = [(i, op) for i, (op, name) in enumerate(calls) if name in wave]
        created_at = [i for i, op in mine if op == "create_change_set"]
        executed_at = [i for i, op in mine if op == "execute_change_set"]
        assert len(created_at) == len(executed_at) == len(wave)
        assert max(created_at) < min(executed_at)
        # executed back to back: no stack of the wave is read until all are executed
        assert {op for i, op in mine if min(executed_at) <= i <= max(executed_at)} == {"execute_change_set"}
        before = {d.stack for d in order[:[d.stack for d in order].index(wave[0])]}
        waited = [i for i, (op, name) in enumerate(calls) if name in before and op == "describe_stack_events"]
        assert waited and max(waited) < min(i for i, _ in mine)  # the earlier stacks had ended
    # the imports resolved to the base and group stacks' resources: every edge subnet is in
    # the base stack's VPC, routed by its own group stack's route table, and the S3 gateway
    # endpoint (last stack) lists every private route table
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks[net[0]]["Outputs"]}
    ec2 = aws.client("ec2", REGION)
    subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [outputs["VpcId"]]}])["Subnets"]
    topo = build_topology(load_spec(spec))
    assert {z.name for z in topo.zones} <= {s["AvailabilityZone"] for s in subnets}
    endpoint = ec2.describe_vpc_endpoints(Filters=[{"Name": "vpc-id", "Values": [outputs["VpcId"]]},
                                                   {"Name": "service-name",
                                                    "Values": [f"com.amazonaws.{REGION}.s3"]}])["VpcEndpoints"]
    made = {r["LogicalResourceId"]: r["PhysicalResourceId"] for name in net
            for r in cfn.list_stack_resources(StackName=name)["StackResourceSummaries"]
            if r["ResourceType"] == "AWS::EC2::RouteTable"}
    private = {rid for lid, rid in made.items() if lid != "PublicRouteTable"}
    assert len(private) > len(net)  # the Region's, the carrier's and one per Local Zone
    assert len(endpoint) == 1 and set(endpoint[0]["RouteTableIds"]) == private
    # each edge zone's subnet, route table and association are in its group's stack
    lz = next(z for z in topo.zones if z.kind.value == "local")
    holder = [name for name in net[1:] for r in cfn.list_stack_resources(StackName=name)["StackResourceSummaries"]
              if r["ResourceType"] == "AWS::EC2::Subnet" and r["PhysicalResourceId"] in {
                  s["SubnetId"] for s in subnets if s["AvailabilityZone"] == lz.name}]
    assert len(holder) == 2 and holder[0] == holder[1]  # zone subnet and its public subnet, one stack
    kinds = sorted(r["ResourceType"] for r in cfn.list_stack_resources(StackName=holder[0])["StackResourceSummaries"])
    assert {"AWS::EC2::RouteTable", "AWS::EC2::Route", "AWS::EC2::SubnetRouteTableAssociation"} <= set(kinds)
    # the exports are named after the base stack, whatever stack holds them
    exports = {e["Name"]: e["ExportingStackId"] for e in cfn.list_exports()["Exports"]}
    assert all(name.startswith((f"{net[0]}-", f"{wl[0]}-")) for name in exports)
    # one Auto Scaling group per Wavelength Zone, from the Wavelength group stacks
    asgs = aws.client("autoscaling", REGION).describe_auto_scaling_groups()["AutoScalingGroups"]
    assert len(asgs) == sum(1 for z in topo.zones if z.kind.value == "wavelength")
    # eksctl got the subnet id of every zone it builds (all but Wavelength), from whichever
    # stack exported it
    rendered = (plan / "cluster" / "eksctl.rendered.yaml").read_text()
    eksctl_zones = {z.name for z in topo.zones if z.kind.value != "wavelength"}
    wanted = [s["SubnetId"] for s in subnets
              if s["AvailabilityZone"] in eksctl_zones and "public" not in str(s.get("Tags"))]
    assert len(wanted) == len(eksctl_zones) and all(sid in rendered for sid in wanted)
    # the DNS records split too (the same share of the quotas): every ALB has its record,
    # the internet name over the Region's and Local Zones' ALBs, a carrier-facing name per
    # Wavelength Zone, each made by one stack
    assert len(dns) > 2
    lbs = {lb["DNSName"].lower(): lb for lb in
           aws.client("elbv2", REGION).describe_load_balancers()["LoadBalancers"]}
    zone_id = hosted_zone()
    records = [r for r in aws.client("route53", REGION).list_resource_record_sets(HostedZoneId=zone_id)[
        "ResourceRecordSets"] if r["Type"] == "A"]
    targets = sorted(r["AliasTarget"]["DNSName"].rstrip(".").lower() for r in records)
    assert targets == sorted(lbs)  # one record per ALB, none twice
    made = [r["LogicalResourceId"] for name in dns
            for r in cfn.list_stack_resources(StackName=name)["StackResourceSummaries"]]
    assert len(made) == len(set(made)) == len(records)


def test_a_failed_stack_of_a_wave_is_reported_after_the_others_completed_and_a_rerun_resumes(
        aws: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """One network group's subnet goes to a zone the account does not have: its change set
    fails (moto fails the execution at once; AWS would fail the stack later), the other
    groups of the wave complete, and apply names the failed stack with its reason and undo
    command. Fixed and deleted as told, a rerun creates only that stack and the ones after."""
    spec, plan = split_plan(tmp_path, monkeypatch)
    group = waves(plan)[0]
    bad = plan / "cluster" / f"network{group[1].removeprefix(group[0].split('-edge-')[0])}.cfn.yaml"
    good = bad.read_text()
    zone = next(ln.split(": ", 1)[1] for ln in good.splitlines() if ln.strip().startswith("AvailabilityZone: "))
    bad.write_text(good.replace(f"AvailabilityZone: {zone}", "AvailabilityZone: us-east-1-nowhere-1a"))
    log: list[str] = []
    with bench_zones_in_account(aws, spec):
        with pytest.raises(ApplyFailed) as failed:
            apply_plan(plan, Aws(REGION), FakeTools(REGION), poll=0.01, timeout=60, log=log.append,
                       hosted_zone_id=hosted_zone())
        msg = str(failed.value)
        assert f"executing the change set of stack {group[1]} failed" in msg
        assert "us-east-1-nowhere-1a" in msg  # the reason AWS gave
        assert f"aws cloudformation delete-stack --stack-name {group[1]} --region {REGION}" in msg
        assert "stopped in step 'network'" in msg
        others = [s for s in group if s != group[1]]
        assert f"completed: {', '.join(others)}" in msg
        cfn = aws.client("cloudformation", REGION)
        status = {s["StackName"]: s["StackStatus"] for s in cfn.describe_stacks()["Stacks"]}
        assert all(status[s] == "CREATE_COMPLETE" for s in others)
        assert not any(s.endswith("-s3-endpoint") for s in status)  # the next wave did not start
        assert "network" not in json.loads((plan / STATE_FILE).read_text())["done"]
        # the fix: the template as planned, the failed stack deleted (as the message says)
        bad.write_text(good)
        cfn.delete_stack(StackName=group[1])
        calls = recorded_cfn_calls(monkeypatch)
        log.clear()
        result = apply_plan(plan, Aws(REGION), FakeTools(REGION), poll=0.01, timeout=60, log=log.append,
                            hosted_zone_id=hosted_zone())
    assert "network" in result.done
    executed = [name for op, name in calls if op == "execute_change_set"]
    net = [d.stack for d in deploy_actions(plan) if d.template.startswith("cluster/network")]
    assert [n for n in executed if n in net] == [group[1], net[-1]]  # the rest had no changes
    assert f"  stack {group[0].split('-edge-')[0]}: no changes" in log


def test_a_template_over_51200_bytes_is_deployed_from_the_bucket(aws: Any, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    spec = write_spec(tmp_path / "big.yaml", 32, 2)
    plan = tmp_path / "plan"
    run_plan([spec], plan, with_simulation=False, fork=False)
    big = [d for d in deploy_actions(plan) if d.s3_bucket]
    assert [d.template for d in big] == ["cluster/network.cfn.yaml"]  # one stack, 24 Local Zones
    assert (plan / big[0].template).stat().st_size > 51_200
    from edgewise.aws.apply import ShellRunner

    tools = FakeTools(REGION)
    monkeypatch.setattr(ShellRunner, "run", lambda _self, script, **kw: tools.run(script, **kw))
    monkeypatch.setenv("HOSTED_ZONE_ID", hosted_zone())
    with bench_zones_in_account(aws, spec):
        # no bucket: refused before anything is done (exit 2), naming the option
        r = CliRunner().invoke(cli, ["apply", str(plan), "--yes", "--poll-interval", "0.01"])
        assert r.exit_code == 2, r.output
        assert "--s3-bucket" in r.stderr and "cluster/network.cfn.yaml" in r.stderr
        assert not {"ModifyAvailabilityZoneGroup", "CreateChangeSet"} & set(aws.account.calls)
        assert not (plan / ".edgewise-apply.json").exists()
        # a bucket that does not exist: the upload fails with AWS's reason, exit 2
        r = CliRunner().invoke(cli, ["apply", str(plan), "--yes", "--poll-interval", "0.01",
                                     "--s3-bucket", "no-such-bucket"])
        assert r.exit_code == 2 and "NoSuchBucket" in r.stderr, r.output
        aws.client("s3", REGION).create_bucket(Bucket="edgewise-templates")
        r = CliRunner().invoke(cli, ["apply", str(plan), "--yes", "--poll-interval", "0.01",
                                     "--s3-bucket", "edgewise-templates"])
        assert r.exit_code == 0, r.output
    assert "uploaded cluster/network.cfn.yaml" in r.stderr
    objects = aws.client("s3", REGION).list_objects_v2(Bucket="edgewise-templates")["Contents"]
    assert [o["Key"].split("/")[1] for o in objects] == [big[0].stack]
    stacks = {s["StackName"]: s["StackStatus"]
              for s in aws.client("cloudformation", REGION).describe_stacks()["Stacks"]}
    assert stacks[big[0].stack] == "CREATE_COMPLETE"


def test_without_the_bucket_the_request_is_refused_as_cloudformation_would(aws: Any, tmp_path: Path) -> None:
    """The emulator refuses the large template inline (standin_template_body_quota), so the
    upload above is what made the stack: not a size moto ignores."""
    spec = write_spec(tmp_path / "big.yaml", 32, 2)
    plan = tmp_path / "plan"
    run_plan([spec], plan, with_simulation=False, fork=False)
    body = (plan / "cluster" / "network.cfn.yaml").read_text()
    cfn = aws.client("cloudformation", REGION)
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError, match="less than or equal to 51200"):
        cfn.create_change_set(StackName="x", ChangeSetName="c1", ChangeSetType="CREATE", TemplateBody=body)
