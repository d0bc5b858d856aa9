"""Behaviour of the cluster plan, seed by seed (examples) and on mixed topologies."""

from __future__ import annotations

import hashlib
import ipaddress
import json
import os
import re
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from cluster_specs import specs, topology
from edgewise.plan.artifacts import render_tree
from edgewise.plan.cluster import plan_cluster
from edgewise.plan.cluster.wavelength import ami_parameter, instance_arch
from edgewise.plan.labels import EDGE_TAINT_KEY, REGION_NODE_LABEL, node_labels
from edgewise.spec import ZoneType, load_spec
from edgewise.topology import build_topology

ROOT = Path(__file__).resolve().parents[1]
SPECS = specs("outposts", "wavelength", "local-zones", "mixed-public", "existing-vpc")


@cache
def files(name: str) -> dict[str, str]:
    return render_tree(plan_cluster(topology(name), ("shop", "two-tier")))


def doc(name: str, path: str) -> Any:
    # the templates use the long intrinsic form (Ref:, Fn::Sub:), so no custom tags
    return yaml.safe_load(files(name)[path])


def resources(name: str, path: str = "cluster/network.cfn.yaml", kind: str | None = None) -> dict[str, Any]:
    res: dict[str, Any] = doc(name, path)["Resources"]
    return {k: v for k, v in res.items() if kind is None or v["Type"] == kind}


def node_groups(name: str) -> dict[str, dict[str, Any]]:
    return {g["name"]: g for g in doc(name, "cluster/eksctl.yaml")["nodeGroups"]}


def resolve_subnet(name: str, ref: str) -> str:
    """eksctl subnet reference -> zone name (follows the placeholders back to the stack)."""
    cfg = doc(name, "cluster/eksctl.yaml")
    spec = cfg["vpc"]["subnets"]["private"][ref]
    return subnet_zone(name, spec["id"])


def subnet_zone(name: str, subnet_id: str) -> str:
    """Subnet id or ${SUBNET_X} placeholder -> zone name, through the network stack outputs."""
    t = topology(name)
    for z in t.zones:
        if z.subnet_id == subnet_id:
            return z.name
    var = subnet_id.strip("${}")
    runbook = files(name)["RUNBOOK.md"]
    output = re.search(rf"export {var}=\$\(out (\w+)\)", runbook)
    assert output, f"{var} is not exported by the RUNBOOK"
    net = doc(name, "cluster/network.cfn.yaml")
    logical = net["Outputs"][output.group(1)]["Value"]["Ref"]
    props = net["Resources"][logical]["Properties"]
    for z in t.zones:
        if z.subnet_cidr == props["CidrBlock"]:
            return z.name
    raise AssertionError(f"no zone for {subnet_id}")


# -- determinism ----------------------------------------------------------------------


def test_two_runs_give_identical_bytes() -> None:
    for name in ("mixed-public", "existing-vpc"):
        t = topology(name)
        first = render_tree(plan_cluster(t, ("a", "b")))
        second = render_tree(plan_cluster(build_topology(load_spec(SPECS[name])), ("a", "b")))
        assert first == second
        assert list(first) == sorted(first)


def test_file_set_follows_the_topology() -> None:
    assert "cluster/wavelength-nodes.cfn.yaml" in files("wavelength")
    assert "cluster/wavelength-nodes.cfn.yaml" not in files("outposts")
    assert "cluster/addons/aws-node-termination-handler.values.yaml" in files("outposts")
    assert "cluster/addons/aws-node-termination-handler.values.yaml" not in files("local-zones")
    for name in SPECS:
        assert {
            "RUNBOOK.md",
            "cluster/eksctl.yaml",
            "cluster/network.cfn.yaml",
            "cluster/addons/coredns-patch.yaml",
            "cluster/addons/storageclass-gp2.yaml",
        } <= set(files(name))


# -- seed 004: Outposts -----------------------------------------------------------------


def test_outposts_one_node_group_per_outpost_subnet() -> None:
    """Pinned by the Outpost subnet alone (seed 004): eksctl refuses outpostARNs of two Outposts."""
    groups = node_groups("outposts")
    assert not [g for g in groups.values() if "outpostARN" in g]
    outpost_groups = [g for g in groups.values() if g["labels"].get("edgewise.dev/zone-type") == "outpost"
                      or topology("outposts").zone(resolve_subnet("outposts", g["subnets"][0])).kind
                      is ZoneType.OUTPOST]
    assert len(outpost_groups) == 2
    zones = set()
    for g in outpost_groups:
        assert len(g["subnets"]) == 1
        zone = topology("outposts").zone(resolve_subnet("outposts", g["subnets"][0]))
        assert zone.kind is ZoneType.OUTPOST
        zones.add(zone.outpost_arn)
        assert g["desiredCapacity"] == 2
        assert g["volumeType"] == "gp2"
        assert g["volumeEncrypted"] is True
        assert g["privateNetworking"] is True
        assert g["disableIMDSv1"] is True
        assert {"key": EDGE_TAINT_KEY, "value": "true", "effect": "NoSchedule"} in g["taints"]
        assert g["labels"] == node_labels(zone)
        assert g["placement"]["groupName"].startswith("${PLACEMENT_GROUP_")
    assert len(zones) == 2  # one group per Outpost, never one over two


def test_outposts_placement_groups_are_rack_spread() -> None:
    pgs = resources("outposts", kind="AWS::EC2::PlacementGroup")
    assert len(pgs) == 2
    assert all(p["Properties"] == {"Strategy": "spread", "SpreadLevel": "rack"} for p in pgs.values())
    # every eksctl placement placeholder is exported from a placement group output
    runbook = files("outposts")["RUNBOOK.md"]
    for g in node_groups("outposts").values():
        if "placement" in g:
            var = g["placement"]["groupName"].strip("${}")
            key = re.search(rf"export {var}=\$\(out (\w+)\)", runbook)
            assert key
            out = doc("outposts", "cluster/network.cfn.yaml")["Outputs"][key.group(1)]
            assert out["Value"]["Ref"] in pgs


def test_outposts_endpoint_is_private() -> None:
    cfg = doc("outposts", "cluster/eksctl.yaml")
    assert cfg["vpc"]["clusterEndpoints"]["privateAccess"] is True
    assert cfg["metadata"]["annotations"]["edgewise.dev/endpoint-access"] == "private"
    runbook = files("outposts")["RUNBOOK.md"]
    assert "--private-access=true --public-access=false" in runbook


def test_outposts_shared_sg_uses_cidr_dns_rules_only() -> None:
    t = topology("outposts")
    sg = resources("outposts")["SharedNodeSecurityGroup"]["Properties"]
    rules = sg["SecurityGroupIngress"]
    assert all("SourceSecurityGroupId" not in r and "CidrIp" in r for r in rules)
    for z in t.of_kind(ZoneType.OUTPOST):
        for proto in ("tcp", "udp"):
            assert any(
                r["IpProtocol"] == proto and r["FromPort"] == 53 and r["ToPort"] == 53 and r["CidrIp"] == z.subnet_cidr
                for r in rules
            ), (z.name, proto)
    node_cidrs = {z.subnet_cidr for z in t.zones}
    assert node_cidrs <= {r["CidrIp"] for r in rules if r["IpProtocol"] == "-1"}
    cfg = doc("outposts", "cluster/eksctl.yaml")
    assert cfg["vpc"]["sharedNodeSecurityGroup"] == "${SHARED_NODE_SG_ID}"
    assert cfg["vpc"]["manageSharedNodeSecurityGroupRules"] is False


def test_outpost_subnets_sit_on_their_outpost_in_the_parent_az() -> None:
    t = topology("outposts")
    subnets = resources("outposts", kind="AWS::EC2::Subnet")
    for z in t.of_kind(ZoneType.OUTPOST):
        (props,) = [s["Properties"] for s in subnets.values() if s["Properties"]["CidrBlock"] == z.subnet_cidr]
        assert props["OutpostArn"] == z.outpost_arn
        assert props["AvailabilityZone"] == z.parent_zone


def test_outposts_termination_handler_in_queue_mode() -> None:
    values = doc("outposts", "cluster/addons/aws-node-termination-handler.values.yaml")
    assert values["enableSqsTerminationDraining"] is True
    assert values["nodeSelector"] == {REGION_NODE_LABEL: "true"}
    res = resources("outposts")
    assert res["NodeTerminationQueue"]["Type"] == "AWS::SQS::Queue"
    rules = [r for r in res.values() if r["Type"] == "AWS::Events::Rule"]
    assert any(
        "EC2 Instance-terminate Lifecycle Action" in r["Properties"]["EventPattern"]["detail-type"] for r in rules
    )
    runbook = files("outposts")["RUNBOOK.md"]
    assert runbook.count("aws autoscaling put-lifecycle-hook") == 2
    assert "--set queueURL=" in runbook


# -- seed 001: Wavelength -----------------------------------------------------------------


def test_wavelength_control_plane_only_in_region_subnets() -> None:
    for name in ("wavelength", "mixed-public", "existing-vpc", "local-zones", "outposts"):
        cfg = doc(name, "cluster/eksctl.yaml")
        cp = [subnet_zone(name, s) for s in cfg["vpc"]["controlPlaneSubnetIDs"]]
        t = topology(name)
        assert sorted(cp) == sorted(z.name for z in t.region_zones), name
        # no Wavelength subnet is known to eksctl at all
        known = {resolve_subnet(name, k) for k in cfg["vpc"]["subnets"]["private"]}
        assert not any(t.zone(z).kind is ZoneType.WAVELENGTH for z in known)
        assert all(g.get("subnets") for g in cfg["nodeGroups"])
        assert "managedNodeGroups" not in cfg


def test_wavelength_carrier_gateway_and_route() -> None:
    res = resources("wavelength")
    assert res["CarrierGateway"]["Type"] == "AWS::EC2::CarrierGateway"
    route = res["CarrierDefaultRoute"]["Properties"]
    assert route["DestinationCidrBlock"] == "0.0.0.0/0"
    assert route["CarrierGatewayId"] == {"Ref": "CarrierGateway"}
    assocs = [
        r["Properties"]
        for r in res.values()
        if r["Type"] == "AWS::EC2::SubnetRouteTableAssociation"
        and r["Properties"]["RouteTableId"] == {"Ref": "CarrierRouteTable"}
    ]
    subnets = resources("wavelength", kind="AWS::EC2::Subnet")
    wl_cidrs = {subnets[a["SubnetId"]["Ref"]]["Properties"]["CidrBlock"] for a in assocs}
    assert wl_cidrs == {z.subnet_cidr for z in topology("wavelength").of_kind(ZoneType.WAVELENGTH)}


def test_wavelength_private_endpoint_has_ec2_endpoint_and_dns() -> None:
    res = resources("wavelength")
    vpc = res["Vpc"]["Properties"]
    assert vpc["EnableDnsSupport"] is True and vpc["EnableDnsHostnames"] is True
    endpoints = {
        json.dumps(r["Properties"]["ServiceName"]): r["Properties"]
        for r in res.values()
        if r["Type"] == "AWS::EC2::VPCEndpoint"
    }
    ec2 = endpoints[json.dumps({"Fn::Sub": "com.amazonaws.${AWS::Region}.ec2"})]
    assert ec2["PrivateDnsEnabled"] is True and ec2["VpcEndpointType"] == "Interface"
    region_subnets = {f"Subnet{k}" for k in ("AzA", "AzB")}
    assert {s["Ref"] for s in ec2["SubnetIds"]} == region_subnets
    for svc in ("ecr.api", "ecr.dkr", "sts", "logs"):
        assert json.dumps({"Fn::Sub": f"com.amazonaws.${{AWS::Region}}.{svc}"}) in endpoints
    s3 = endpoints[json.dumps({"Fn::Sub": "com.amazonaws.${AWS::Region}.s3"})]
    assert s3["VpcEndpointType"] == "Gateway" and s3["RouteTableIds"]
    # Carrier IPs by default, private endpoint or not: the carrier gateway is the nodes'
    # only path to public.ecr.aws and Docker Hub images
    wl = resources("wavelength", "cluster/wavelength-nodes.cfn.yaml", "AWS::EC2::LaunchTemplate")
    for lt in wl.values():
        assert lt["Properties"]["LaunchTemplateData"]["NetworkInterfaces"][0]["AssociateCarrierIpAddress"] is True
    # every Wavelength node has an internet path: no pull-through cache needed
    assert not resources("wavelength", kind="AWS::ECR::PullThroughCacheRule")


def test_wavelength_public_endpoint_gets_carrier_ip() -> None:
    lts = resources("mixed-public", "cluster/wavelength-nodes.cfn.yaml", "AWS::EC2::LaunchTemplate")
    assert len(lts) == 2
    for lt in lts.values():
        assert lt["Properties"]["LaunchTemplateData"]["NetworkInterfaces"][0]["AssociateCarrierIpAddress"] is True
    # a public endpoint needs no interface endpoints
    assert not resources("mixed-public", kind="AWS::EC2::VPCEndpoint")


def test_wavelength_nodes_stack() -> None:
    t = topology("wavelength")
    tpl = doc("wavelength", "cluster/wavelength-nodes.cfn.yaml")
    assert tpl["Parameters"]["NodeImageIdX8664"]["Default"] == ami_parameter(t.kubernetes_version, "x86_64")
    assert "/1.31/amazon-linux-2023/x86_64/" in tpl["Parameters"]["NodeImageIdX8664"]["Default"]
    res = tpl["Resources"]
    assert res["NodeAccessEntry"]["Properties"]["Type"] == "EC2_LINUX"
    policies = json.dumps(res["NodeRole"]["Properties"]["ManagedPolicyArns"])
    for p in (
        "AmazonEKSWorkerNodePolicy",
        "AmazonEC2ContainerRegistryReadOnly",
        "AmazonEKS_CNI_Policy",
        "AmazonSSMManagedInstanceCore",
    ):
        assert p in policies
    asgs = {k: v for k, v in res.items() if v["Type"] == "AWS::AutoScaling::AutoScalingGroup"}
    assert len(asgs) == 2
    for z in t.of_kind(ZoneType.WAVELENGTH):
        assert z.node_group is not None
        (asg,) = [
            a["Properties"]
            for a in asgs.values()
            if {"Key": "edgewise.dev/zone", "Value": z.name, "PropagateAtLaunch": True} in a["Properties"]["Tags"]
        ]
        assert (asg["MinSize"], asg["MaxSize"], asg["DesiredCapacity"]) == (
            str(z.node_group.min_size),
            str(z.node_group.max_size),
            str(z.node_group.desired),
        )
        lt_name = asg["LaunchTemplate"]["LaunchTemplateId"]["Ref"]
        data = res[lt_name]["Properties"]["LaunchTemplateData"]
        assert data["MetadataOptions"]["HttpTokens"] == "required"
        ebs = data["BlockDeviceMappings"][0]["Ebs"]
        assert ebs["VolumeType"] == "gp2" and ebs["Encrypted"] is True
        user_data = data["UserData"]["Fn::Base64"]["Fn::Sub"]
        assert "Content-Type: application/node.eks.aws" in user_data
        assert "kind: NodeConfig" in user_data
        labels = ",".join(f"{k}={v}" for k, v in node_labels(z).items())
        assert f"--node-labels={labels}" in user_data
        assert f"--register-with-taints={EDGE_TAINT_KEY}=true:NoSchedule" in user_data
        assert REGION_NODE_LABEL not in user_data


def test_instance_arch() -> None:
    assert instance_arch("t3.xlarge") == "x86_64"
    assert instance_arch("g4dn.2xlarge") == "x86_64"
    assert instance_arch("m6g.large") == "arm64"
    assert instance_arch("c7gn.xlarge") == "arm64"


# -- CoreDNS and add-ons -----------------------------------------------------------------


def test_coredns_pinned_to_region_with_anti_affinity() -> None:
    patch = doc("wavelength", "cluster/addons/coredns-patch.yaml")
    assert (patch["kind"], patch["metadata"]["name"], patch["metadata"]["namespace"]) == (
        "Deployment",
        "coredns",
        "kube-system",
    )
    assert patch["spec"]["replicas"] >= 2
    pod = patch["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {REGION_NODE_LABEL: "true"}
    assert pod["tolerations"] == []
    (term,) = pod["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert term["topologyKey"] == "kubernetes.io/hostname"
    assert term["labelSelector"] == {"matchLabels": {"k8s-app": "kube-dns"}}
    runbook = files("wavelength")["RUNBOOK.md"]
    assert (
        "kubectl -n kube-system patch deployment coredns --type strategic "
        "--patch-file cluster/addons/coredns-patch.yaml"
    ) in runbook
    # the managed add-on carries the same pinning
    (coredns,) = [a for a in doc("wavelength", "cluster/eksctl.yaml")["addons"] if a["name"] == "coredns"]
    conf = json.loads(coredns["configurationValues"])
    assert conf["nodeSelector"] == pod["nodeSelector"] and conf["replicaCount"] >= 2


def test_region_nodes_carry_the_coredns_label_and_edge_nodes_do_not() -> None:
    for name in ("mixed-public", "local-zones"):
        t = topology(name)
        for g in node_groups(name).values():
            zone = t.zone(g["labels"]["edgewise.dev/zone"])
            assert (g["labels"].get(REGION_NODE_LABEL) == "true") == zone.is_region
            assert ("taints" in g) == zone.is_edge


def test_gp2_storage_class() -> None:
    sc = doc("local-zones", "cluster/addons/storageclass-gp2.yaml")
    assert sc["provisioner"] == "ebs.csi.aws.com"
    assert sc["parameters"] == {"type": "gp2", "encrypted": "true"}
    assert sc["volumeBindingMode"] == "WaitForFirstConsumer"


# -- Local Zones, mixed and existing VPCs ---------------------------------------------------


def test_local_zones_use_explicit_subnets_and_region_nat() -> None:
    cfg = doc("local-zones", "cluster/eksctl.yaml")
    assert "localZones" not in cfg and all("localZones" not in g for g in cfg["nodeGroups"])
    t = topology("local-zones")
    res = resources("local-zones")
    nat_routes = [
        r["Properties"] for r in res.values() if r["Type"] == "AWS::EC2::Route" and "NatGatewayId" in r["Properties"]
    ]
    # every Region AZ and Local Zone subnet has a default route through a Region NAT gateway
    assert len(nat_routes) == len(t.zones)
    nats = resources("local-zones", kind="AWS::EC2::NatGateway")
    assert {r["NatGatewayId"]["Ref"] for r in nat_routes} <= set(nats)
    assert all(
        groups in files("local-zones")["RUNBOOK.md"]
        for groups in (
            "--group-name us-west-2-lax-1 ",
            "--group-name us-west-2-las-1 ",
            "--group-name us-west-2-phx-2 ",
        )
    )


def tags(props: dict[str, Any]) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in props.get("Tags", [])}


def default_route(name: str, subnet: str) -> dict[str, Any]:
    """The 0.0.0.0/0 route of the route table a subnet (logical id) is associated with."""
    res = resources(name)
    (table,) = [
        r["Properties"]["RouteTableId"]["Ref"]
        for r in res.values()
        if r["Type"] == "AWS::EC2::SubnetRouteTableAssociation" and r["Properties"]["SubnetId"] == {"Ref": subnet}
    ]
    (route,) = [
        r["Properties"]
        for r in res.values()
        if r["Type"] == "AWS::EC2::Route"
        and r["Properties"]["RouteTableId"] == {"Ref": table}
        and r["Properties"]["DestinationCidrBlock"] == "0.0.0.0/0"
    ]
    return route


def test_local_zone_public_subnets_route_to_the_internet_gateway() -> None:
    """The per-Local-Zone ALB needs a public subnet: the zone subnet itself routes via NAT."""
    for name in ("local-zones", "mixed-public"):
        t = topology(name)
        subnets = resources(name, kind="AWS::EC2::Subnet")
        outputs = doc(name, "cluster/network.cfn.yaml")["Outputs"]
        lzs = t.of_kind(ZoneType.LOCAL)
        assert lzs
        for z in lzs:
            assert z.public_cidr is not None
            (lid,) = [k for k, v in subnets.items() if v["Properties"]["CidrBlock"] == z.public_cidr]
            props = subnets[lid]["Properties"]
            assert props["AvailabilityZone"] == z.name and props["MapPublicIpOnLaunch"] is False
            # named by the Ingress; no role tag, so auto-discovery never mixes it with the Region's
            assert tags(props) == {"Name": f"{t.name}-public-{z.name}", f"kubernetes.io/cluster/{t.name}": "shared"}
            assert default_route(name, lid) == {
                "RouteTableId": {"Ref": "PublicRouteTable"},
                "DestinationCidrBlock": "0.0.0.0/0",
                "GatewayId": {"Ref": "InternetGateway"},
            }
            assert outputs[f"{lid}Id"]["Value"] == {"Ref": lid}
            # the zone's own subnet stays private and is never auto-discovered for an internet ALB
            (own,) = [k for k, v in subnets.items() if v["Properties"]["CidrBlock"] == z.subnet_cidr]
            assert "NatGatewayId" in default_route(name, own)
            assert "kubernetes.io/role/elb" not in tags(subnets[own]["Properties"])
            assert tags(subnets[own]["Properties"])["Name"] == f"{t.name}-{z.slug}"
        # no node group is placed in a public subnet
        for g in node_groups(name).values():
            assert all(resolve_subnet(name, ref) == g["labels"]["edgewise.dev/zone"] for ref in g["subnets"])
        assert not re.search(r"out SubnetPublic", files(name)["RUNBOOK.md"])
        assert "Each Local Zone also gets a public subnet" in files(name)["RUNBOOK.md"]
    assert "Each Local Zone also gets a public subnet" not in files("wavelength")["RUNBOOK.md"]


def test_existing_vpc_local_zone_gets_no_public_subnet_and_the_runbook_says_so() -> None:
    assert not [k for k in resources("existing-vpc") if k.startswith("SubnetPublic")]
    runbook = " ".join(files("existing-vpc")["RUNBOOK.md"].split())
    assert "Local Zone ALB goes into the Local Zone subnet the spec names" in runbook
    assert "must route 0.0.0.0/0 to an internet gateway" in runbook


def test_subnets_match_the_topology() -> None:
    for name in ("mixed-public", "local-zones", "wavelength"):
        t = topology(name)
        subnets = [s["Properties"] for s in resources(name, kind="AWS::EC2::Subnet").values()]
        by_cidr = {s["CidrBlock"]: s for s in subnets}
        for z in t.zones:
            assert z.subnet_cidr is not None
            s = by_cidr[z.subnet_cidr]
            assert s["AvailabilityZone"] == (z.parent_zone if z.kind is ZoneType.OUTPOST else z.name)
        public = {c for _, c in t.public_subnets}
        assert public <= set(by_cidr)
        nets = [ipaddress.IPv4Network(c) for c in by_cidr]
        assert not any(a.overlaps(b) for i, a in enumerate(nets) for b in nets[i + 1 :])


def test_every_placeholder_is_exported_and_rendered_by_the_runbook() -> None:
    for name in SPECS:
        text = files(name)["cluster/eksctl.yaml"]
        runbook = files(name)["RUNBOOK.md"]
        outputs = doc(name, "cluster/network.cfn.yaml")["Outputs"]
        for var in sorted(set(re.findall(r"\$\{(\w+)\}", text))):
            envsubst = re.search(r"envsubst '([^']*)'", runbook)
            assert envsubst and "${" + var + "}" in envsubst.group(1)
            if var == "OPERATOR_CIDR":  # not a stack output: the operator's own public address
                assert 'OPERATOR_CIDR=$(echo "$(curl -fsS https://checkip.amazonaws.com)/32")' in runbook
                assert "export OPERATOR_CIDR\n" in runbook
                continue
            m = re.search(rf"export {var}=\$\(out (\w+)\)", runbook)
            assert m, (name, var)
            assert m.group(1) in outputs, (name, var)
            envsubst = re.search(r"envsubst '([^']*)'", runbook)
            assert envsubst and "${" + var + "}" in envsubst.group(1)
        for out in outputs.values():
            assert out["Export"]["Name"]["Fn::Sub"].startswith("${AWS::StackName}-")


def test_existing_vpc_is_reused() -> None:
    t = topology("existing-vpc")
    net = doc("existing-vpc", "cluster/network.cfn.yaml")
    assert "Vpc" not in net["Resources"]
    assert not resources("existing-vpc", kind="AWS::EC2::Subnet")
    assert net["Parameters"]["VpcId"]["Default"] == t.vpc_id
    cfg = doc("existing-vpc", "cluster/eksctl.yaml")
    assert cfg["vpc"]["id"] == t.vpc_id
    assert cfg["vpc"]["controlPlaneSubnetIDs"] == [z.subnet_id for z in t.region_zones]
    # an Outpost without a known CIDR falls back to the VPC CIDR in the CIDR-only rules
    rules = net["Resources"]["SharedNodeSecurityGroup"]["Properties"]["SecurityGroupIngress"]
    assert {
        "IpProtocol": "udp",
        "FromPort": 53,
        "ToPort": 53,
        "CidrIp": "10.0.50.0/24",
        "Description": "DNS UDP from Outpost rack-a",
    } in rules
    assert any(r["CidrIp"] == {"Ref": "VpcCidr"} and r["FromPort"] == 53 for r in rules if "FromPort" in r)
    # EC2 rejects rules that differ only in their description
    keys = [json.dumps([r["IpProtocol"], r.get("FromPort"), r.get("ToPort"), r["CidrIp"]]) for r in rules]
    assert len(keys) == len(set(keys))
    runbook = files("existing-vpc")["RUNBOOK.md"]
    assert "--enable-dns-support" in runbook and "--enable-dns-hostnames" in runbook
    wl = doc("existing-vpc", "cluster/wavelength-nodes.cfn.yaml")
    assert "NetworkStackName" not in wl["Parameters"]
    assert "NodeImageIdX8664" in wl["Parameters"] and "/1.30/" in wl["Parameters"]["NodeImageIdX8664"]["Default"]


def test_mixed_topology_node_groups() -> None:
    t = topology("mixed-public")
    groups = node_groups("mixed-public")
    eksctl_zones = {g["labels"]["edgewise.dev/zone"] for g in groups.values()}
    assert eksctl_zones == {z.name for z in t.zones if z.kind is not ZoneType.WAVELENGTH}
    for g in groups.values():
        zone = t.zone(g["labels"]["edgewise.dev/zone"])
        assert g["volumeType"] == zone.volume_type
        assert resolve_subnet("mixed-public", g["subnets"][0]) == zone.name
    cfg = doc("mixed-public", "cluster/eksctl.yaml")
    assert cfg["vpc"]["clusterEndpoints"] == {"privateAccess": False, "publicAccess": True}
    assert cfg["metadata"]["version"] == t.kubernetes_version


def test_runbook_is_complete_for_the_topology() -> None:
    runbook = files("mixed-public")["RUNBOOK.md"]
    steps = [
        "aws ec2 modify-availability-zone-group --group-name us-east-1-wl1 ",
        "aws outposts get-outpost-instance-types --outpost-id op-0123456789abcdef0",
        "aws cloudformation deploy --stack-name mixed-network",
        "eksctl create cluster -f cluster/eksctl.rendered.yaml",
        "aws cloudformation deploy --stack-name mixed-wavelength-nodes",
        "kubectl -n kube-system patch deployment coredns",
        "kubectl apply -k apps/shop",
        "kubectl apply -k apps/two-tier",
        "kubectl get nodes -L topology.kubernetes.io/zone",
        "aws cloudformation delete-stack --stack-name mixed-wavelength-nodes",
        "eksctl delete cluster",
        "aws ec2 release-address",
        "aws cloudformation delete-stack --stack-name mixed-network",
    ]
    positions = [runbook.find(s) for s in steps]
    assert all(p >= 0 for p in positions), [s for s, p in zip(steps, positions, strict=True) if p < 0]
    assert positions == sorted(positions)
    for group in ("us-east-1-wl1", "us-east-1-bos-1", "us-east-1-nyc-1"):
        assert f"--group-name {group} " in runbook
    assert "--private-access=true --public-access=false" not in runbook


def test_identical_bytes_across_processes_and_hash_seeds() -> None:
    """Set iteration order changes with the hash seed; the output must not."""
    script = (
        "import hashlib, sys\n"
        "from pathlib import Path\n"
        "from edgewise.plan.artifacts import render_tree\n"
        "from edgewise.plan.cluster import plan_cluster\n"
        "from edgewise.spec import load_spec\n"
        "from edgewise.topology import build_topology\n"
        "t = build_topology(load_spec(Path(sys.argv[1])))\n"
        "tree = render_tree(plan_cluster(t, ('a',)))\n"
        "print(hashlib.sha256(repr(sorted(tree.items())).encode()).hexdigest())\n"
    )
    digests = set()
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        run = subprocess.run(
            [sys.executable, "-c", script, str(SPECS["mixed-public"])],
            check=True,
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
        digests.add(run.stdout.strip())
    expected = render_tree(plan_cluster(topology("mixed-public"), ("a",)))
    assert digests == {hashlib.sha256(repr(sorted(expected.items())).encode()).hexdigest()}


def test_zones_with_colliding_slugs_get_distinct_names(tmp_path: Path) -> None:
    """An Outpost named like a Local Zone's short name must not share its ids."""
    spec = SPECS["local-zones"] / "topology.yaml"
    text = spec.read_text() + (
        "    - name: lax-1a\n"
        "      type: outpost\n"
        "      outpostArn: arn:aws:outposts:us-west-2:111122223333:outpost/op-0a1b2c3d4e5f60009\n"
        "      parentZone: us-west-2a\n"
        "      nodeGroup: {instanceType: m5.xlarge, desired: 2}\n"
    )
    path = tmp_path / "topology.yaml"
    path.write_text(text)
    t = build_topology(load_spec(path))
    assert t.zone("lax-1a").slug == t.zone("us-west-2-lax-1a").slug
    tree = render_tree(plan_cluster(t))
    cfg = yaml.safe_load(tree["cluster/eksctl.yaml"])
    names = [g["name"] for g in cfg["nodeGroups"]]
    assert len(names) == len(set(names)) == 6
    assert len(cfg["vpc"]["subnets"]["private"]) == 6
    subnets = [
        k
        for k, v in yaml.safe_load(tree["cluster/network.cfn.yaml"])["Resources"].items()
        if v["Type"] == "AWS::EC2::Subnet" and "Public" not in k
    ]
    assert len(subnets) == 6
