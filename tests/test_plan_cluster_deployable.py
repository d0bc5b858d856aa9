"""Deployable as written: the cluster side of what a real deploy would reject.

Regression tests on the generated cluster files for each item (Outpost node groups,
image paths, outpostIntraVpc, existing VPCs, clean-up, node groups, the private endpoint,
logging and Secrets encryption), and ``check`` catching the same mistakes (each rule also
has PASS/FAIL fixtures under tests/data/rules/).
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from cluster_specs import specs, topology
from edgewise.check import check_paths
from edgewise.plan.artifacts import render_tree
from edgewise.plan.cluster import plan_cluster
from edgewise.spec import ZoneType, load_spec
from edgewise.topology import build_topology

ROOT = Path(__file__).resolve().parents[1]
SPECS = specs(
    "outposts", "wavelength", "local-zones", "mixed-public", "existing-vpc", "existing-vpc-reuse", "private-wavelength"
)
NEW_RULES = ("EW114", "EW115", "EW116", "EW117", "EW118", "EW119", "EW120", "EW121")


@cache
def files(name: str) -> dict[str, str]:
    return render_tree(plan_cluster(topology(name), ("demo",)))


def doc(name: str, path: str) -> dict[str, Any]:
    loaded = yaml.safe_load(files(name)[path])
    assert isinstance(loaded, dict)
    return loaded


def resources(name: str, path: str = "cluster/network.cfn.yaml", kind: str | None = None) -> dict[str, Any]:
    res: dict[str, Any] = doc(name, path)["Resources"]
    return {k: v for k, v in res.items() if kind is None or v["Type"] == kind}


# -- 1. Outposts node groups ---------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(SPECS))
def test_no_node_group_names_an_outpost_arn(name: str) -> None:
    cfg = doc(name, "cluster/eksctl.yaml")
    assert all("outpostARN" not in ng for ng in cfg["nodeGroups"])
    # ...and each Outpost still gets its own group, on its own subnet
    outposts = [z for z in topology(name).of_kind(ZoneType.OUTPOST) if z.node_group]
    labelled = [ng for ng in cfg["nodeGroups"] if ng["labels"].get("edgewise.dev/zone-type") == "outpost"]
    assert sorted(ng["labels"]["edgewise.dev/zone"] for ng in labelled) == sorted(z.name for z in outposts)
    assert all(len(ng["subnets"]) == 1 for ng in labelled)


# -- 4. Image and API paths ----------------------------------------------------------------


def test_wavelength_nodes_get_carrier_ips_by_default() -> None:
    for name in ("wavelength", "mixed-public", "existing-vpc-reuse"):
        for lt in resources(name, "cluster/wavelength-nodes.cfn.yaml", "AWS::EC2::LaunchTemplate").values():
            assert lt["Properties"]["LaunchTemplateData"]["NetworkInterfaces"][0]["AssociateCarrierIpAddress"] is True


def test_wavelength_without_carrier_ip_gets_an_ecr_only_image_path() -> None:
    t = topology("private-wavelength")
    closed = [z for z in t.of_kind(ZoneType.WAVELENGTH) if not z.carrier_ip]
    assert [z.name for z in closed] == ["us-east-1-wl1-bos-wlz-1"]
    res = resources("private-wavelength")
    s3 = next(r["Properties"] for r in res.values() if r["Type"] == "AWS::EC2::VPCEndpoint"
              and r["Properties"]["VpcEndpointType"] == "Gateway")
    assert {"Ref": "CarrierRouteTable"} in s3["RouteTableIds"]  # image layers from S3
    services = {r["Properties"]["ServiceName"]["Fn::Sub"].rsplit(".", 2)[-2] + "." +
                r["Properties"]["ServiceName"]["Fn::Sub"].rsplit(".", 1)[-1]
                for r in res.values() if r["Type"] == "AWS::EC2::VPCEndpoint"}
    assert {"ecr.api", "ecr.dkr"} <= services
    (cache_rule,) = [r["Properties"] for r in res.values() if r["Type"] == "AWS::ECR::PullThroughCacheRule"]
    assert cache_rule == {"EcrRepositoryPrefix": "ecr-public", "UpstreamRegistryUrl": "public.ecr.aws"}
    role = resources("private-wavelength", "cluster/wavelength-nodes.cfn.yaml")["NodeRole"]["Properties"]
    actions = role["Policies"][0]["PolicyDocument"]["Statement"][0]["Action"]
    assert set(actions) == {"ecr:BatchImportUpstreamImage", "ecr:CreateRepository"}
    lts = resources("private-wavelength", "cluster/wavelength-nodes.cfn.yaml", "AWS::EC2::LaunchTemplate")
    carrier = {lid: lt["Properties"]["LaunchTemplateData"]["NetworkInterfaces"][0]["AssociateCarrierIpAddress"]
               for lid, lt in lts.items()}
    assert sorted(carrier.values()) == [False, True]
    runbook = files("private-wavelength")["RUNBOOK.md"]
    assert "have no Carrier IP and so no internet path" in runbook
    assert "us-east-1.amazonaws.com/ecr-public/<repository>:<tag>" in runbook


def test_wavelength_with_carrier_ips_needs_no_cache() -> None:
    assert not resources("wavelength", kind="AWS::ECR::PullThroughCacheRule")
    assert "Policies" not in resources("wavelength", "cluster/wavelength-nodes.cfn.yaml")["NodeRole"]["Properties"]


def test_check_flags_a_public_image_on_nodes_without_carrier_ip(tmp_path: Path) -> None:
    """The plan refuses such a spec (see tests/data/bad); check catches it in a user's manifests."""
    spec = SPECS["private-wavelength"].read_text().split("\n---\n")[0]
    deploy = (ROOT / "tests" / "data" / "rules" / "EW118" / "fail.yaml").read_text().split("\n---\n")[1]
    f = tmp_path / "mixed.yaml"
    f.write_text(spec + "\n---\n" + deploy.replace("wl-bos", "closed"))
    report = check_paths([f], None, select=["EW118"])
    assert [x.rule for x in report.findings] == ["EW118"]
    assert "public.ecr.aws/nginx/nginx:1.27" in report.findings[0].message


# -- 6. outpostIntraVpc --------------------------------------------------------------------


def test_outpost_intra_vpc_emits_lgw_association_and_routes() -> None:
    t = topology("outposts")
    ops = t.of_kind(ZoneType.OUTPOST)
    assert t.outpost_intra_vpc and len(ops) == 2
    res = resources("outposts")
    assocs = {r["Properties"]["LocalGatewayRouteTableId"] for r in res.values()
              if r["Type"] == "AWS::EC2::LocalGatewayRouteTableVPCAssociation"}
    assert assocs == {z.local_gateway_route_table_id for z in ops}
    subnet_of = {r["Properties"]["CidrBlock"]: lid for lid, r in res.items() if r["Type"] == "AWS::EC2::Subnet"}
    table_of = {r["Properties"]["SubnetId"]["Ref"]: r["Properties"]["RouteTableId"]["Ref"]
                for r in res.values() if r["Type"] == "AWS::EC2::SubnetRouteTableAssociation"}
    routes = {(r["Properties"]["RouteTableId"]["Ref"], r["Properties"]["DestinationCidrBlock"]):
              r["Properties"]["LocalGatewayId"]
              for r in res.values() if r["Type"] == "AWS::EC2::Route" and "LocalGatewayId" in r["Properties"]}
    for a in ops:
        for b in ops:
            if a is not b:
                key = (table_of[subnet_of[a.subnet_cidr]], b.subnet_cidr)
                assert routes[key] == a.local_gateway_id, key
    assert len(routes) == 2


def test_outpost_intra_vpc_in_an_existing_vpc_states_prerequisites() -> None:
    assert not resources("existing-vpc-reuse", kind="AWS::EC2::LocalGatewayRouteTableVPCAssociation")
    runbook = files("existing-vpc-reuse")["RUNBOOK.md"]
    assert "describe-local-gateway-route-table-vpc-associations" in runbook
    for subnet in ("subnet-0bbb0000000000005", "subnet-0bbb0000000000006"):
        assert f"Name=association.subnet-id,Values={subnet}" in runbook


def test_check_flags_outpost_intra_vpc_without_routes(tmp_path: Path) -> None:
    """Removing the generated routes makes check say the network no longer provides the link."""
    net = doc("outposts", "cluster/network.cfn.yaml")
    net["Resources"] = {k: v for k, v in net["Resources"].items()
                        if not (v["Type"] == "AWS::EC2::Route" and "LocalGatewayId" in v["Properties"])}
    spec = (SPECS["outposts"] / "topology.yaml").read_text().split("\n---\n")[0]
    path = tmp_path / "op.yaml"
    path.write_text(spec + "\n---\n" + yaml.safe_dump(net, sort_keys=False))
    report = check_paths([path], None, select=["EW120"])
    assert sorted({f.rule for f in report.findings}) == ["EW120"] and len(report.findings) == 2


# -- 8. Existing VPCs ----------------------------------------------------------------------


def test_existing_vpc_reuses_carrier_gateway_and_endpoints() -> None:
    t = topology("existing-vpc-reuse")
    res = resources("existing-vpc-reuse")
    assert not [r for r in res.values() if r["Type"] == "AWS::EC2::CarrierGateway"]
    (route,) = [r["Properties"] for r in res.values() if r["Type"] == "AWS::EC2::Route"]
    assert route["CarrierGatewayId"] == t.carrier_gateway_id
    made = {r["Properties"]["ServiceName"]["Fn::Sub"].split("}.", 1)[1] for r in res.values()
            if r["Type"] == "AWS::EC2::VPCEndpoint"}
    assert not made & set(t.existing_endpoints)  # ec2, ecr.api, s3 are reused, not duplicated
    assert {"ecr.dkr", "sts", "eks"} <= made


def test_existing_vpc_without_carrier_gateway_id_checks_for_one_first() -> None:
    assert resources("existing-vpc", kind="AWS::EC2::CarrierGateway")
    assert "describe-carrier-gateways" in files("existing-vpc")["RUNBOOK.md"]
    assert "describe-carrier-gateways" not in files("existing-vpc-reuse")["RUNBOOK.md"]


@pytest.mark.parametrize("name", sorted(SPECS))
def test_no_route_on_a_route_table_the_stack_does_not_own(name: str) -> None:
    for path, text in files(name).items():
        if not path.endswith(".cfn.yaml"):
            continue
        tpl = yaml.safe_load(text)
        owned = {k for k, v in tpl["Resources"].items() if v["Type"] == "AWS::EC2::RouteTable"}
        for lid, r in tpl["Resources"].items():
            props = r.get("Properties", {})
            if r["Type"] == "AWS::EC2::Route":
                assert props["RouteTableId"]["Ref"] in owned, (path, lid)
            if r["Type"] == "AWS::EC2::VPCEndpoint" and "RouteTableIds" in props:
                assert isinstance(props["RouteTableIds"], list), (path, lid)
                assert all(x["Ref"] in owned for x in props["RouteTableIds"]), (path, lid)
        assert "PrivateRouteTableIds" not in tpl.get("Parameters", {})


# -- 9. Clean-up ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["wavelength", "mixed-public", "existing-vpc", "private-wavelength"])
def test_cleanup_releases_only_carrier_ips_of_this_topology(name: str) -> None:
    runbook = files(name)["RUNBOOK.md"]
    t = topology(name)
    cleanup = runbook[runbook.index("Clean up"):]
    releases = [line for line in cleanup.splitlines() if "release-address" in line]
    assert len(releases) == len(t.of_kind(ZoneType.WAVELENGTH))
    for line in releases:
        # every address the loop may release must carry this topology's tag
        assert f"Name=tag:edgewise.dev/topology,Values={t.name}" in line, line


# -- 11. Node groups -----------------------------------------------------------------------


def test_desired_only_node_groups_can_scale() -> None:
    t = topology("private-wavelength")
    cfg = doc("private-wavelength", "cluster/eksctl.yaml")
    for ng in cfg["nodeGroups"]:
        assert ng["minSize"] <= ng["desiredCapacity"] < ng["maxSize"], ng["name"]
    by_zone = {ng["labels"]["edgewise.dev/zone"]: ng for ng in cfg["nodeGroups"]}
    assert (by_zone["us-east-1b"]["minSize"], by_zone["us-east-1b"]["maxSize"]) == (3, 6)
    asgs = resources("private-wavelength", "cluster/wavelength-nodes.cfn.yaml", "AWS::AutoScaling::AutoScalingGroup")
    sizes = sorted((a["Properties"]["MinSize"], a["Properties"]["DesiredCapacity"], a["Properties"]["MaxSize"])
                   for a in asgs.values())
    assert sizes == [("1", "1", "3"), ("2", "2", "4")]
    assert t.zone("us-east-1-wl1-nyc-wlz-1").node_group is not None


@pytest.mark.parametrize("name", ["wavelength", "mixed-public", "private-wavelength"])
def test_wavelength_asgs_roll_and_carry_autoscaler_tags(name: str) -> None:
    t = topology(name)
    asgs = resources(name, "cluster/wavelength-nodes.cfn.yaml", "AWS::AutoScaling::AutoScalingGroup")
    assert asgs
    for asg in asgs.values():
        rolling = asg["UpdatePolicy"]["AutoScalingRollingUpdate"]
        assert rolling["MinInstancesInService"] == int(asg["Properties"]["MinSize"])
        assert rolling["MaxBatchSize"] == 1
        tags = {x["Key"]: x["Value"] for x in asg["Properties"]["Tags"]}
        assert tags["k8s.io/cluster-autoscaler/enabled"] == "true"
        assert tags[f"k8s.io/cluster-autoscaler/{t.name}"] == "owned"
    for ng in doc(name, "cluster/eksctl.yaml")["nodeGroups"]:
        assert ng["tags"][f"k8s.io/cluster-autoscaler/{t.name}"] == "owned" and ng["propagateASGTags"] is True


# -- issue 18 part 5: private endpoint, logging, Secrets encryption ------------------------


@pytest.mark.parametrize("name", ["outposts", "wavelength", "local-zones", "existing-vpc"])
def test_private_endpoint_is_never_open_to_the_internet(name: str) -> None:
    t = topology(name)
    assert not t.public_endpoint
    vpc = doc(name, "cluster/eksctl.yaml")["vpc"]
    assert vpc["publicAccessCIDRs"] == ["${OPERATOR_CIDR}"]
    runbook = files(name)["RUNBOOK.md"]
    capture = 'OPERATOR_CIDR=$(echo "$(curl -fsS https://checkip.amazonaws.com)/32")\nexport OPERATOR_CIDR'
    export = runbook.index(capture)
    assert export < runbook.index("eksctl create cluster")
    assert "0.0.0.0/0" not in re.findall(r"--public-access-cidrs \S+", runbook)
    assert "--public-access=false" in runbook  # and then closed for good


def test_spec_public_access_cidrs_are_used_as_given() -> None:
    vpc = doc("private-wavelength", "cluster/eksctl.yaml")["vpc"]
    assert vpc["publicAccessCIDRs"] == ["198.51.100.0/24"]
    assert "OPERATOR_CIDR" not in files("private-wavelength")["RUNBOOK.md"]


def test_public_endpoint_without_cidrs_stays_as_eksctl_defaults_it() -> None:
    assert "publicAccessCIDRs" not in doc("mixed-public", "cluster/eksctl.yaml")["vpc"]


def test_logging_and_secrets_encryption_on_by_default() -> None:
    cfg = doc("wavelength", "cluster/eksctl.yaml")
    assert cfg["cloudWatch"]["clusterLogging"] == {"enableTypes": ["audit", "authenticator"], "logRetentionInDays": 30}
    assert cfg["secretsEncryption"] == {"keyARN": "${SECRETS_KEY_ARN}"}
    key = resources("wavelength")["SecretsKey"]
    assert key["Type"] == "AWS::KMS::Key" and key["Properties"]["EnableKeyRotation"] is True
    assert key["DeletionPolicy"] == "Retain"
    runbook = files("wavelength")["RUNBOOK.md"]
    assert "SECRETS_KEY_ARN=$(aws cloudformation describe-stacks --stack-name wavelength-network" in runbook
    assert 'aws kms schedule-key-deletion --key-id "$SECRETS_KEY_ARN"' in runbook


def test_logging_and_encryption_follow_the_spec() -> None:
    cfg = doc("private-wavelength", "cluster/eksctl.yaml")
    assert cfg["cloudWatch"]["clusterLogging"]["enableTypes"] == ["api", "audit", "authenticator"]
    assert cfg["cloudWatch"]["clusterLogging"]["logRetentionInDays"] == 90
    assert cfg["secretsEncryption"]["keyARN"].endswith(":key/1234abcd-12ab-34cd-56ef-1234567890ab")
    assert "SecretsKey" not in resources("private-wavelength")
    off = doc("existing-vpc-reuse", "cluster/eksctl.yaml")
    assert "cloudWatch" not in off and "secretsEncryption" not in off
    assert "SecretsKey" not in resources("existing-vpc-reuse")


# -- the generated plans pass the new rules ------------------------------------------------


@pytest.mark.parametrize("name", ["outposts", "wavelength", "private-wavelength", "existing-vpc-reuse"])
def test_generated_cluster_files_pass_the_new_rules(name: str, tmp_path: Path) -> None:
    for path, text in files(name).items():
        if path.endswith(".yaml"):
            out = tmp_path / path
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(text)
    spec = SPECS[name] if SPECS[name].is_file() else SPECS[name] / "topology.yaml"
    report = check_paths([tmp_path / "cluster"], build_topology(load_spec(spec)), select=list(NEW_RULES))
    expected = {"EW116", "EW117"} if name == "existing-vpc-reuse" else set()  # turned off in that spec
    assert {f.rule for f in report.findings} == expected, [f.message for f in report.findings]
