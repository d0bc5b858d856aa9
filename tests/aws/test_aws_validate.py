"""edgewise validate --aws: each way a spec can disagree with the account, at file:line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from click.testing import CliRunner

from edgewise.cli import cli

ROOT = Path(__file__).resolve().parents[2]


def validate(*paths: Path) -> Any:
    return CliRunner().invoke(cli, ["validate", *map(str, paths), "--aws"])


def line_of(path: Path, text: str) -> int:
    return next(i for i, ln in enumerate(path.read_text().splitlines(), start=1) if text in ln)


def write(tmp_path: Path, body: str) -> Path:
    p = tmp_path / "topology.yaml"
    p.write_text("apiVersion: edgewise.dev/v1alpha1\nkind: Topology\nmetadata: {name: t}\n" + body)
    return p


def test_zone_group_not_opted_in(aws: Any) -> None:
    spec = ROOT / "examples" / "local-zones-hashicups" / "topology.yaml"
    r = validate(spec)
    assert r.exit_code == 2
    line = line_of(spec, "name: us-west-2-las-1a")
    assert f"topology.yaml:{line}:" in r.stderr
    assert "spec.zones[3].name: zone group us-west-2-las-1 of us-west-2-las-1a is not opted in" in r.stderr
    assert "modify-availability-zone-group --group-name us-west-2-las-1" in r.stderr
    # lax-1 is opted in in this account: not reported
    assert "us-west-2-lax-1 of" not in r.stderr
    # opting in (what apply does) clears it
    aws.client("ec2").modify_availability_zone_group(GroupName="us-west-2-las-1", OptInStatus="opted-in")
    assert "not opted in" not in validate(spec).stderr


def test_instance_type_not_offered_in_zone_or_on_outpost(aws: Any) -> None:
    lz = ROOT / "examples" / "local-zones-hashicups" / "topology.yaml"
    r = validate(lz)
    assert "spec.zones[4].nodeGroup.instanceType: instance type c5d.2xlarge is not offered in us-west-2-phx-2a" \
        in r.stderr
    assert "use one that is: c5.2xlarge" in r.stderr
    assert "c5d.2xlarge is not offered in us-west-2-lax-1a" not in r.stderr  # offered there
    op = ROOT / "examples" / "outposts" / "topology.yaml"
    r = validate(op)
    assert r.exit_code == 2
    lines = op.read_text().splitlines()
    arn = line_of(op, "outpost/op-0a1b2c3d4e5f60002")
    line = next(i for i in range(arn, len(lines) + 1) if "nodeGroup" in lines[i - 1])  # outpost-2's
    assert "instance type m5.xlarge is not offered on Outpost op-0a1b2c3d4e5f60002" in r.stderr
    assert f"topology.yaml:{line}:" in r.stderr
    assert "op-0a1b2c3d4e5f60001" not in r.stderr  # that one has m5.xlarge


def _vpc(aws: Any) -> dict[str, str]:
    ec2 = aws.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    out = {"vpc": vpc}
    for i, zone in enumerate(("us-west-2a", "us-west-2b", "us-west-2-wl1-den-wlz-1")):
        sn = ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=zone)
        out[zone] = sn["Subnet"]["SubnetId"]
    return out


def _existing_vpc_spec(tmp_path: Path, ids: dict[str, str], a: str, b: str, endpoint: str = "public") -> Path:
    return write(tmp_path, f"""spec:
  region: us-west-2
  endpointAccess: {endpoint}
  vpc: {{id: {ids['vpc']}}}
  zones:
    - name: us-west-2a
      subnet: {{id: {a}}}
      nodeGroup: {{instanceType: m5.large, desired: 2}}
    - name: us-west-2b
      subnet: {{id: {b}}}
      nodeGroup: {{instanceType: m5.large, desired: 2}}
    - name: us-west-2-wl1-den-wlz-1
      subnet: {{id: {ids['us-west-2-wl1-den-wlz-1']}}}
      nodeGroup: {{instanceType: t3.xlarge, desired: 1}}
""")


def test_subnet_not_in_its_zone(aws: Any, tmp_path: Path) -> None:
    ids = _vpc(aws)
    good = _existing_vpc_spec(tmp_path, ids, ids["us-west-2a"], ids["us-west-2b"])
    r = validate(good)
    assert r.exit_code == 0, r.stderr
    swapped = _existing_vpc_spec(tmp_path, ids, ids["us-west-2b"], ids["us-west-2a"])
    r = validate(swapped)
    assert r.exit_code == 2
    assert (f"topology.yaml:{line_of(swapped, ids['us-west-2b'])}:" in r.stderr)
    assert f"spec.zones[0].subnet.id: subnet {ids['us-west-2b']} is in zone us-west-2b, not us-west-2a" in r.stderr
    assert f"spec.zones[1].subnet.id: subnet {ids['us-west-2a']} is in zone us-west-2a, not us-west-2b" in r.stderr
    missing = _existing_vpc_spec(tmp_path, ids, "subnet-0123456789abcdef0", ids["us-west-2b"])
    assert "subnet subnet-0123456789abcdef0 does not exist in us-west-2" in validate(missing).stderr
    other = aws.client("ec2").create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    foreign = aws.client("ec2").create_subnet(VpcId=other, CidrBlock="10.1.0.0/24",
                                              AvailabilityZone="us-west-2a")["Subnet"]["SubnetId"]
    r = validate(_existing_vpc_spec(tmp_path, ids, foreign, ids["us-west-2b"]))
    assert f"subnet {foreign} is in {other}, not in vpc.id {ids['vpc']}" in r.stderr


def test_existing_carrier_gateway_and_endpoint_to_reuse(aws: Any, tmp_path: Path) -> None:
    ids = _vpc(aws)
    spec = _existing_vpc_spec(tmp_path, ids, ids["us-west-2a"], ids["us-west-2b"], endpoint="private")
    ec2 = aws.client("ec2")
    assert validate(spec).exit_code == 0
    cgw = ec2.create_carrier_gateway(VpcId=ids["vpc"])["CarrierGateway"]["CarrierGatewayId"]
    ep = ec2.create_vpc_endpoint(VpcId=ids["vpc"], ServiceName="com.amazonaws.us-west-2.ecr.api",
                                 VpcEndpointType="Interface", SubnetIds=[ids["us-west-2a"]],
                                 PrivateDnsEnabled=True)["VpcEndpoint"]["VpcEndpointId"]
    # an endpoint for a service the stack does not create is no conflict
    ec2.create_vpc_endpoint(VpcId=ids["vpc"], ServiceName="com.amazonaws.us-west-2.kinesis-streams",
                            VpcEndpointType="Interface", SubnetIds=[ids["us-west-2a"]], PrivateDnsEnabled=True)
    r = validate(spec)
    assert r.exit_code == 2
    line = line_of(spec, "vpc: {id:")
    assert f"topology.yaml:{line}:" in r.stderr
    assert f"already has carrier gateway {cgw}" in r.stderr and "reuse it" in r.stderr
    assert f"endpoint {ep} for com.amazonaws.us-west-2.ecr.api" in r.stderr
    assert "kinesis" not in r.stderr


def test_zone_and_outpost_the_account_does_not_have(aws: Any, tmp_path: Path) -> None:
    spec = write(tmp_path, """spec:
  region: us-west-2
  zones:
    - {name: us-west-2a, nodeGroup: {instanceType: m5.large, desired: 2}}
    - {name: us-west-2b, nodeGroup: {instanceType: m5.large, desired: 2}}
    - name: us-west-2-sea-1a
      nodeGroup: {instanceType: t3.xlarge, desired: 1}
    - name: rack
      type: outpost
      outpostArn: arn:aws:outposts:us-west-2:111122223333:outpost/op-0ffffffffffffffff
      parentZone: us-west-2a
""")
    r = validate(spec)
    assert r.exit_code == 2
    assert "the account has no zone 'us-west-2-sea-1a' in us-west-2" in r.stderr
    assert "the account has no Outpost op-0ffffffffffffffff in us-west-2" in r.stderr


def test_validate_without_aws_makes_no_call(aws: Any) -> None:
    r = CliRunner().invoke(cli, ["validate", str(ROOT / "examples" / "local-zones-hashicups")])
    assert r.exit_code == 0
    assert aws.account.calls == []
