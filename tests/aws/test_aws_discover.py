"""edgewise discover against the emulated account (moto + named stand-ins, loopback only)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from click.testing import CliRunner

from edgewise.cli import cli
from edgewise.spec import load_spec
from edgewise.topology import build_topology
from edgewise.workflow import run_plan


def invoke(*args: str) -> Any:
    return CliRunner().invoke(cli, list(args))


def test_discover_json_reports_what_the_account_has(aws: Any) -> None:
    r = invoke("discover", "--region", "us-west-2", "--format", "json")
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    zones = {z["name"]: z for z in d["zones"]}
    for ez in aws.account.edge_zones["us-west-2"]:
        z = zones[ez.name]
        assert z["optInStatus"] == ez.opt_in
        assert z["group"] == ez.group
        assert z["parentZone"] == ez.parent
        assert z["instanceTypes"] == sorted(ez.instance_types)
        assert z["type"] == {"local-zone": "local", "wavelength-zone": "wavelength"}[ez.type]
    assert zones["us-west-2-wl1-den-wlz-1"]["networkBorderGroup"] == "us-west-2-wl1-den-wlz-1"
    assert zones["us-west-2-wl1-den-wlz-1"]["ebsVolumeTypes"] == ["gp2"]
    assert zones["us-west-2-lax-1a"]["ebsVolumeTypes"] is None  # no API says; not guessed
    # Region AZs and their offerings come from moto itself
    assert zones["us-west-2a"]["type"] == "availability-zone"
    assert "m5.large" in zones["us-west-2a"]["instanceTypes"]
    ops = {o["id"]: o for o in d["outposts"]}
    assert ops["op-0a1b2c3d4e5f60002"]["instanceTypes"] == ["m5.large"]
    assert ops["op-0a1b2c3d4e5f60001"]["availabilityZone"] == "us-west-2a"
    assert d["vpc"] is None


def test_discovered_spec_validates_and_plans(aws: Any, tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    r = invoke("discover", "--region", "us-west-2", "--name", "found", "-o", str(spec))
    assert r.exit_code == 0, r.output
    text = spec.read_text()
    assert "[ec2:DescribeAvailabilityZones]" in text and "[outposts:GetOutpostInstanceTypes]" in text
    doc = yaml.safe_load(text)
    zones = {z["name"]: z for z in doc["spec"]["zones"]}
    # the zone whose group is not opted in is there only as a comment, with the reason
    assert "us-west-2-las-1a" not in zones
    assert "#- name: us-west-2-las-1a" in text and "us-west-2-las-1 is not-opted-in" in text
    # every proposed node group uses a type the zone offers / the Outpost has
    offered = {z.name: z.instance_types for z in aws.account.edge_zones["us-west-2"]}
    offered |= {o.name.lower().replace(" ", "-"): o.instance_types for o in aws.account.outposts["us-west-2"]}
    for name, z in zones.items():
        if name in offered and "nodeGroup" in z:
            assert z["nodeGroup"]["instanceType"] in offered[name]
    assert zones["rack-two"]["nodeGroup"]["instanceType"] == "m5.large"
    assert zones["rack-one"]["outpostArn"].endswith("op-0a1b2c3d4e5f60001")
    # it is a valid spec, it matches the account, and it plans
    r = invoke("validate", str(spec), "--aws")
    assert r.exit_code == 0, r.output
    assert "matches the AWS account" in r.output
    topo = build_topology(load_spec(spec))
    assert {z.kind.value for z in topo.zones} == {"availability-zone", "local", "wavelength", "outpost"}
    result = run_plan([spec], tmp_path / "plan", with_simulation=False)
    assert "cluster/eksctl.yaml" in result.files and (tmp_path / "plan" / "runbook.json").is_file()


def test_discover_with_vpc_reads_subnets_route_tables_carrier_gateway_and_endpoints(aws: Any) -> None:
    ec2 = aws.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    a = ec2.create_subnet(VpcId=vpc, CidrBlock="10.9.0.0/20", AvailabilityZone="us-west-2a")["Subnet"]["SubnetId"]
    b = ec2.create_subnet(VpcId=vpc, CidrBlock="10.9.16.0/20", AvailabilityZone="us-west-2b")["Subnet"]["SubnetId"]
    lax = ec2.create_subnet(VpcId=vpc, CidrBlock="10.9.32.0/20",
                            AvailabilityZone="us-west-2-lax-1a")["Subnet"]["SubnetId"]
    cgw = ec2.create_carrier_gateway(VpcId=vpc)["CarrierGateway"]["CarrierGatewayId"]
    rt = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    ec2.associate_route_table(RouteTableId=rt, SubnetId=lax)
    ep = ec2.create_vpc_endpoint(VpcId=vpc, ServiceName="com.amazonaws.us-west-2.s3",
                                 VpcEndpointType="Gateway")["VpcEndpoint"]["VpcEndpointId"]
    r = invoke("discover", "--region", "us-west-2", "--vpc-id", vpc, "--format", "json")
    assert r.exit_code == 0, r.output
    v = json.loads(r.stdout)["vpc"]
    assert v["cidr"] == "10.9.0.0/16"
    subnets = {s["id"]: s for s in v["subnets"]}
    assert subnets[lax]["zone"] == "us-west-2-lax-1a" and subnets[lax]["routeTable"] == rt
    assert subnets[a]["routeTable"] == next(t["id"] for t in v["routeTables"] if t["main"])
    assert v["carrierGateways"] == [cgw]
    assert [e["id"] for e in v["endpoints"]] == [ep]
    # the YAML form uses the VPC and one subnet per zone; zones without a subnet are comments
    r = invoke("discover", "--region", "us-west-2", "--vpc-id", vpc)
    doc = yaml.safe_load(r.stdout)
    assert doc["spec"]["vpc"] == {"id": vpc}
    zones = {z["name"]: z for z in doc["spec"]["zones"]}
    assert zones["us-west-2a"]["subnet"] == {"id": a} and zones["us-west-2b"]["subnet"] == {"id": b}
    assert zones["us-west-2-lax-1a"]["subnet"] == {"id": lax}
    assert "us-west-2c" not in zones and "the VPC has no subnet in this zone" in r.stdout


def test_unknown_vpc_is_an_input_error(aws: Any) -> None:
    r = invoke("discover", "--region", "us-west-2", "--vpc-id", "vpc-0123456789abcdef0")
    assert r.exit_code == 2
    assert "--vpc-id: no VPC vpc-0123456789abcdef0 in us-west-2" in r.stderr


# -- bad input: clear error, exit 2, nothing written --------------------------------------


def test_unknown_region(aws: Any, tmp_path: Path) -> None:
    out = tmp_path / "spec.yaml"
    r = invoke("discover", "--region", "us-west-7", "-o", str(out))
    assert r.exit_code == 2
    assert "--region: unknown AWS Region 'us-west-7'" in r.stderr and "did you mean" in r.stderr
    assert not out.exists()
    assert aws.account.calls == []  # refused before any call


def test_no_credentials(aws: Any, monkeypatch: Any, tmp_path: Path) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    out = tmp_path / "spec.yaml"
    r = invoke("discover", "--region", "us-west-2", "-o", str(out))
    assert r.exit_code == 2
    assert "no AWS credentials found" in r.stderr and "standard AWS chain" in r.stderr
    assert not out.exists()


def test_unknown_profile(aws: Any) -> None:
    r = invoke("discover", "--region", "us-west-2", "--profile", "nope")
    assert r.exit_code == 2
    assert "--profile" in r.stderr and "nope" in r.stderr


def test_throttled_api(aws: Any, tmp_path: Path) -> None:
    aws.account.throttle.add("DescribeInstanceTypeOfferings")
    out = tmp_path / "spec.yaml"
    r = invoke("discover", "--region", "us-west-2", "-o", str(out))
    assert r.exit_code == 2
    assert "AWS throttled DescribeInstanceTypeOfferings (RequestLimitExceeded)" in r.stderr
    assert "rerun" in r.stderr
    # botocore retried (AWS_MAX_ATTEMPTS=2) before giving up
    assert aws.account.calls.count("DescribeInstanceTypeOfferings") == 2
    assert not out.exists()


def test_credentials_are_never_printed(aws: Any) -> None:
    for args in (("discover", "--region", "us-west-2"), ("discover", "--region", "us-west-2", "--format", "json")):
        r = invoke(*args)
        assert "testing-secret-never-printed" not in r.output + r.stderr
