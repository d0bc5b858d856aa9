"""``cluster/network.cfn.yaml``: the VPC side of the edge cluster, as one CloudFormation stack.

eksctl can build a VPC, but not one that fits an edge topology: it skips Wavelength
subnets, creates no carrier gateway, cannot put Local Zone subnets into a VPC it did not
create, and hands every subnet it knows to the control plane. So the network is ours and
eksctl only consumes it (``vpc.id`` + subnet ids read from this stack's outputs).

Routing decisions (each one is a fact of the edge network, see the design brief):

* Region AZ subnets are private; each routes 0.0.0.0/0 to the NAT gateway of its own AZ.
* Local Zone subnets route through a Region NAT gateway (over the service link). Each
  Local Zone also gets a public subnet (no nodes) on the public route table (0.0.0.0/0 ->
  internet gateway) for its internet-facing ALB: an ALB only in the NAT-routed zone
  subnet would not be reachable from the internet.
* Outpost subnets route through the NAT gateway of their parent AZ.
* Wavelength subnets can only use a carrier gateway: one carrier route table
  (0.0.0.0/0 -> carrier gateway) is shared by all Wavelength subnets.
* A *private* API endpoint keeps the NAT gateways: the endpoint setting is about the
  Kubernetes API, while workloads still pull public images (public.ecr.aws, Docker Hub).
  The interface endpoints below keep node bootstrap and every AWS API call inside the
  VPC, which is what Wavelength nodes without a Carrier IP need to join a private
  endpoint. An air-gapped cluster mirrors its images into ECR and drops the NAT gateways.
* Wavelength nodes get Carrier IPs by default: the carrier gateway is their only way
  out, and images from public.ecr.aws or Docker Hub come from the internet. A zone with
  ``carrierIp: false`` has no internet path at all; its nodes bootstrap through the
  interface endpoints and pull from ECR only: the S3 gateway endpoint (ECR image layers
  live in S3) is routed from the carrier route table too, and an ECR pull-through cache
  rule mirrors public.ecr.aws under ``<account>.dkr.ecr.<region>.amazonaws.com/ecr-public/``
  (https://docs.aws.amazon.com/AmazonECR/latest/userguide/pull-through-cache.html).
* An existing VPC keeps what it has: the carrier gateway and the endpoints the spec
  names (``vpc.carrierGatewayId``, ``vpc.endpoints``) are reused, and no route is ever
  added to a route table this stack does not create. The S3 gateway endpoint is routed
  only from the stack's own route tables.
* ``outpostIntraVpc`` (seed 004): the VPC is associated with each Outpost's local gateway
  route table, and each Outpost subnet's route table sends the other Outpost subnets'
  CIDRs to its own local gateway ("the route tables for the subnets on the AWS Outposts
  route traffic destined between the subnets over the AWS Outposts LGW";
  https://docs.aws.amazon.com/vpc/latest/userguide/route-table-options.html#route-tables-lgw).
  With an existing VPC the association and routes are prerequisites the RUNBOOK checks.
* Secrets encryption: a customer managed KMS key with yearly rotation, unless the spec
  names a key (``secretsEncryption.keyArn``) or turns encryption off.
* Outposts get a shared node security group whose rules use CIDRs only: security group
  references are not carried over the customer network between Outposts (seed 004).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ...spec import ZoneType
from ...spec.models import ENDPOINT_SERVICES
from ...topology import Topology, Zone
from ..artifacts import Artifact
from .cfnsplit import TAIL, Part, Split, split_template
from .names import (
    NTH_QUEUE_ARN,
    NTH_QUEUE_URL,
    SECRETS_KEY_ARN,
    SHARED_NODE_SG,
    VPC_ID,
    ZoneNames,
    has_outposts,
    network_stack,
    pascal,
    zone_names,
)

__all__ = [
    "ECR_PUBLIC_CACHE_PREFIX",
    "INTERFACE_ENDPOINT_SERVICES",
    "intra_vpc_routes",
    "local_zone_public_zones",
    "network_artifact",
    "network_parts",
    "network_template",
    "private_route_table_zones",
]

#: interface endpoints a private cluster's nodes need (bootstrap, images, IRSA, logs,
#: the load balancer controller, cluster autoscaling, SSM access to the nodes, EKS API)
INTERFACE_ENDPOINT_SERVICES = (
    "autoscaling",
    "ec2",
    "ec2messages",
    "ecr.api",
    "ecr.dkr",
    "eks",
    "elasticloadbalancing",
    "logs",
    "ssm",
    "ssmmessages",
    "sts",
)

#: ECR repository prefix of the pull-through cache for public.ecr.aws
ECR_PUBLIC_CACHE_PREFIX = "ecr-public"

Json = dict[str, Any]

assert set(INTERFACE_ENDPOINT_SERVICES) | {"s3", "sqs"} == set(ENDPOINT_SERVICES)


def _ref(name: str) -> Json:
    return {"Ref": name}


def _tags(**tags: str) -> list[Json]:
    return [{"Key": k, "Value": v} for k, v in tags.items()]


def _kv_tags(pairs: Mapping[str, str]) -> list[Json]:
    return [{"Key": k, "Value": v} for k, v in pairs.items()]


def _output(value: Any, description: str, key: str) -> Json:
    return {
        "Description": description,
        "Value": value,
        "Export": {"Name": {"Fn::Sub": "${AWS::StackName}-" + key}},
    }


def private_route_table_zones(topology: Topology) -> tuple[Zone, ...]:
    """Zones that get their own private route table (new subnets that are not Wavelength)."""
    return tuple(
        z
        for z in topology.zones
        if z.subnet_id is None and topology.vpc_id is None and z.kind is not ZoneType.WAVELENGTH
    )


def _vpc_ref(topology: Topology) -> Any:
    return _ref("VpcId") if topology.vpc_id is not None else _ref("Vpc")


def _vpc_cidr(topology: Topology) -> Any:
    return _ref("VpcCidr") if topology.vpc_id is not None else {"Fn::GetAtt": ["Vpc", "CidrBlock"]}


def subnet_value(topology: Topology, names: ZoneNames) -> Any:
    """The subnet id of a zone inside this template: a literal for existing subnets."""
    z = names.zone
    return z.subnet_id if z.subnet_id is not None else _ref(names.subnet)


def _zone_cidr(topology: Topology, z: Zone) -> Any:
    """CIDR used in security group rules for ``z``; the VPC CIDR when only an id is known."""
    return z.subnet_cidr if z.subnet_cidr is not None else _vpc_cidr(topology)


def _nat_az(topology: Topology, z: Zone) -> str | None:
    """The Region AZ whose NAT gateway serves ``z`` (own AZ, parent AZ, else the first)."""
    azs = [az for az, _ in topology.public_subnets]
    if not azs:
        return None
    want = z.name if z.is_region else (z.parent_zone if z.kind is ZoneType.OUTPOST else None)
    return want if want in azs else azs[0]


@dataclass
class _Stack:
    """The template under construction; each ``_add_*`` step fills one concern."""

    t: Topology
    names: dict[str, ZoneNames]
    params: Json = field(default_factory=dict)
    conditions: Json = field(default_factory=dict)
    res: Json = field(default_factory=dict)
    outputs: Json = field(default_factory=dict)
    nat_by_az: dict[str, str] = field(default_factory=dict)
    private_tables: list[str] = field(default_factory=list)
    #: logical id of a resource or output -> the edge zone it belongs to (or TAIL); what
    #: is not here belongs to the base stack when the template is split
    owner: dict[str, str] = field(default_factory=dict)

    @property
    def existing(self) -> bool:
        return self.t.vpc_id is not None

    def output(self, key: str, value: Any, description: str, owner: Zone | None = None) -> None:
        self.outputs[key] = _output(value, description, key)
        self._own(key, owner)

    def resource(self, name: str, kind: str, props: Json, owner: Zone | str | None = None, **extra: Any) -> None:
        self.res[name] = {"Type": kind, **extra, "Properties": props}
        self._own(name, owner)

    def _own(self, name: str, owner: Zone | str | None) -> None:
        if isinstance(owner, str):
            self.owner[name] = owner
        elif owner is not None and not owner.is_region:
            self.owner[name] = owner.name


def _add_vpc(s: _Stack) -> None:
    t = s.t
    if s.existing:
        s.params["VpcId"] = {
            "Type": "AWS::EC2::VPC::Id",
            "Default": t.vpc_id,
            "Description": "The existing VPC the cluster reuses",
        }
        s.params["VpcCidr"] = {
            "Type": "String",
            "Description": f"Primary CIDR of the existing VPC {t.vpc_id} "
            "(aws ec2 describe-vpcs); used in security group rules",
            "AllowedPattern": r"^(\d{1,3}\.){3}\d{1,3}/\d{1,2}$",
        }
    else:
        s.resource(
            "Vpc",
            "AWS::EC2::VPC",
            {
                "CidrBlock": t.vpc_cidr,
                "EnableDnsSupport": True,
                "EnableDnsHostnames": True,
                "Tags": _tags(Name=t.name),
            },
        )
    s.output(VPC_ID.output, _vpc_ref(t), "VPC of the cluster")


def _add_zone_subnets(s: _Stack) -> None:
    """One subnet per zone (existing subnet ids are only passed through as outputs).

    ``AvailabilityZone`` names the zone itself (cfn-lint W3010 warns on hard-coded zones;
    edge subnets must name their exact Local/Wavelength Zone, so the tests ignore W3010).
    Outpost subnets live in the parent AZ, on the Outpost (``OutpostArn``).
    """
    t = s.t
    cluster_tag = f"kubernetes.io/cluster/{t.name}"
    for z in t.zones:
        n = s.names[z.name]
        if z.subnet_id is None:
            if z.subnet_cidr is None:  # semantic validation prevents this; keep the generator total
                raise ValueError(f"zone {z.name} has neither a subnet id nor a CIDR")
            props: Json = {"VpcId": _vpc_ref(t), "CidrBlock": z.subnet_cidr}
            if z.kind is ZoneType.OUTPOST:
                props["AvailabilityZone"] = z.parent_zone
                props["OutpostArn"] = z.outpost_arn
            else:
                props["AvailabilityZone"] = z.name
            tags = {"Name": f"{t.name}-{z.slug}", cluster_tag: "shared", "edgewise.dev/zone": z.name}
            if z.is_region:
                tags["kubernetes.io/role/internal-elb"] = "1"
            props["Tags"] = _kv_tags(tags)
            s.resource(n.subnet, "AWS::EC2::Subnet", props, owner=z)
        s.output(n.subnet_output.output, subnet_value(t, n), f"Subnet of {z.kind.value} zone {z.name}", owner=z)


def _add_region_egress(s: _Stack) -> None:
    """Public subnets, internet gateway and one NAT gateway per Region AZ (new VPC only)."""
    t = s.t
    if not t.public_subnets or s.existing:
        return
    s.resource("InternetGateway", "AWS::EC2::InternetGateway", {"Tags": _tags(Name=t.name)})
    s.resource(
        "InternetGatewayAttachment",
        "AWS::EC2::VPCGatewayAttachment",
        {"VpcId": _ref("Vpc"), "InternetGatewayId": _ref("InternetGateway")},
    )
    s.resource(
        "PublicRouteTable", "AWS::EC2::RouteTable", {"VpcId": _ref("Vpc"), "Tags": _tags(Name=f"{t.name}-public")}
    )
    s.resource(
        "PublicDefaultRoute",
        "AWS::EC2::Route",
        {
            "RouteTableId": _ref("PublicRouteTable"),
            "DestinationCidrBlock": "0.0.0.0/0",
            "GatewayId": _ref("InternetGateway"),
        },
        DependsOn="InternetGatewayAttachment",
    )
    cluster_tag = f"kubernetes.io/cluster/{t.name}"
    for az, cidr in t.public_subnets:
        key = s.names[az].public_key if az in s.names else "Public" + pascal(az)
        subnet = f"Subnet{key}"
        s.resource(
            subnet,
            "AWS::EC2::Subnet",
            {
                "VpcId": _ref("Vpc"),
                "CidrBlock": cidr,
                "AvailabilityZone": az,
                "MapPublicIpOnLaunch": True,
                "Tags": _kv_tags(
                    {"Name": f"{t.name}-public-{az}", cluster_tag: "shared", "kubernetes.io/role/elb": "1"}
                ),
            },
        )
        s.resource(
            f"{subnet}RouteTableAssociation",
            "AWS::EC2::SubnetRouteTableAssociation",
            {"SubnetId": _ref(subnet), "RouteTableId": _ref("PublicRouteTable")},
        )
        s.resource(
            f"NatEip{key}",
            "AWS::EC2::EIP",
            {"Domain": "vpc", "Tags": _tags(Name=f"{t.name}-nat-{az}")},
            DependsOn="InternetGatewayAttachment",
        )
        s.resource(
            f"NatGateway{key}",
            "AWS::EC2::NatGateway",
            {
                "AllocationId": {"Fn::GetAtt": [f"NatEip{key}", "AllocationId"]},
                "SubnetId": _ref(subnet),
                "Tags": _tags(Name=f"{t.name}-nat-{az}"),
            },
        )
        s.nat_by_az[az] = f"NatGateway{key}"
        s.output(f"{subnet}Id", _ref(subnet), f"Public Region subnet in {az}")


def local_zone_public_zones(topology: Topology) -> tuple[Zone, ...]:
    """Local Zones that get a public subnet in this template (new VPC only)."""
    if topology.vpc_id is not None:
        return ()
    return tuple(z for z in topology.of_kind(ZoneType.LOCAL) if z.public_cidr is not None)


def _add_local_zone_public(s: _Stack) -> None:
    """A public subnet per Local Zone for its internet-facing ALB (no nodes, no NAT).

    It shares the Region public route table (0.0.0.0/0 -> internet gateway). The Ingress
    names it by its Name tag, so it carries no ``kubernetes.io/role/elb`` tag: the load
    balancer controller's auto-discovery would otherwise pick it next to the Region public
    subnets for any internet-facing load balancer without explicit subnets, and fail with
    "subnets in multiple locales". The zone's own subnet stays private and untagged too.
    """
    t = s.t
    lzs = local_zone_public_zones(t)
    if not lzs:
        return
    if "PublicRouteTable" not in s.res:  # a new VPC always has Region AZs; keep the generator total
        raise ValueError("Local Zone public subnets need the public route table of the Region AZs")
    cluster_tag = f"kubernetes.io/cluster/{t.name}"
    for z in lzs:
        subnet = f"Subnet{s.names[z.name].public_key}"
        s.resource(
            subnet,
            "AWS::EC2::Subnet",
            {
                "VpcId": _ref("Vpc"),
                "CidrBlock": z.public_cidr,
                "AvailabilityZone": z.name,
                "MapPublicIpOnLaunch": False,
                "Tags": _kv_tags({"Name": f"{t.name}-public-{z.name}", cluster_tag: "shared"}),
            },
            owner=z,
        )
        s.resource(
            f"{subnet}RouteTableAssociation",
            "AWS::EC2::SubnetRouteTableAssociation",
            {"SubnetId": _ref(subnet), "RouteTableId": _ref("PublicRouteTable")},
            owner=z,
        )
        s.output(f"{subnet}Id", _ref(subnet), f"Public subnet of Local Zone {z.name} (internet-facing ALB)", owner=z)


def _add_private_routes(s: _Stack) -> None:
    """A route table per Region AZ, Local Zone and Outpost subnet, default route via NAT."""
    for z in private_route_table_zones(s.t):
        n = s.names[z.name]
        s.private_tables.append(n.route_table)
        s.resource(
            n.route_table,
            "AWS::EC2::RouteTable",
            {"VpcId": _ref("Vpc"), "Tags": _tags(Name=f"{s.t.name}-{z.slug}")},
            owner=z,
        )
        nat_az = _nat_az(s.t, z)
        if nat_az is not None and nat_az in s.nat_by_az:
            s.resource(
                f"{n.route_table}DefaultRoute",
                "AWS::EC2::Route",
                {
                    "RouteTableId": _ref(n.route_table),
                    "DestinationCidrBlock": "0.0.0.0/0",
                    "NatGatewayId": _ref(s.nat_by_az[nat_az]),
                },
                owner=z,
            )
        s.resource(
            f"{n.subnet}RouteTableAssociation",
            "AWS::EC2::SubnetRouteTableAssociation",
            {"SubnetId": _ref(n.subnet), "RouteTableId": _ref(n.route_table)},
            owner=z,
        )


def _add_carrier(s: _Stack) -> None:
    """Wavelength: a carrier gateway (or the VPC's existing one) and one carrier route table."""
    t = s.t
    wlzs = t.of_kind(ZoneType.WAVELENGTH)
    if not wlzs:
        return
    if t.carrier_gateway_id is not None:
        gateway: Any = t.carrier_gateway_id  # a VPC has at most one carrier gateway: reuse it
    else:
        s.resource("CarrierGateway", "AWS::EC2::CarrierGateway", {"VpcId": _vpc_ref(t), "Tags": _tags(Name=t.name)})
        gateway = _ref("CarrierGateway")
    s.resource(
        "CarrierRouteTable", "AWS::EC2::RouteTable", {"VpcId": _vpc_ref(t), "Tags": _tags(Name=f"{t.name}-carrier")}
    )
    s.resource(
        "CarrierDefaultRoute",
        "AWS::EC2::Route",
        {
            "RouteTableId": _ref("CarrierRouteTable"),
            "DestinationCidrBlock": "0.0.0.0/0",
            "CarrierGatewayId": gateway,
        },
    )
    for z in wlzs:
        n = s.names[z.name]
        s.resource(
            f"{n.subnet}CarrierRouteTableAssociation",
            "AWS::EC2::SubnetRouteTableAssociation",
            {"SubnetId": subnet_value(t, n), "RouteTableId": _ref("CarrierRouteTable")},
            owner=z,
        )
    s.private_tables.append("CarrierRouteTable")
    s.output("CarrierGatewayId", gateway, "Carrier gateway of the Wavelength Zones")


def intra_vpc_routes(topology: Topology) -> list[tuple[Zone, Zone]]:
    """(from, to) Outpost pairs whose subnets route to each other over ``from``'s local gateway."""
    if not topology.outpost_intra_vpc or topology.vpc_id is not None:
        return []
    ops = [z for z in topology.of_kind(ZoneType.OUTPOST) if z.subnet_id is None and z.local_gateway_id]
    return [(a, b) for a in ops for b in ops if a.name != b.name and b.subnet_cidr is not None]


def _add_local_gateways(s: _Stack) -> None:
    """outpostIntraVpc: LGW route table <-> VPC associations and routes between Outpost subnets."""
    t = s.t
    pairs = intra_vpc_routes(t)
    if not pairs:
        return
    tables = sorted({z.local_gateway_route_table_id for z, _ in pairs if z.local_gateway_route_table_id})
    for table in tables:
        s.resource(
            f"LocalGatewayVpcAssociation{pascal(table)}",
            "AWS::EC2::LocalGatewayRouteTableVPCAssociation",
            {"LocalGatewayRouteTableId": table, "VpcId": _vpc_ref(t), "Tags": _tags(Name=t.name)},
        )
    for a, b in pairs:
        na, nb = s.names[a.name], s.names[b.name]
        s.resource(
            f"{na.route_table}To{nb.key}",
            "AWS::EC2::Route",
            {
                "RouteTableId": _ref(na.route_table),
                "DestinationCidrBlock": b.subnet_cidr,
                "LocalGatewayId": a.local_gateway_id,
            },
            owner=a,
            DependsOn=[f"LocalGatewayVpcAssociation{pascal(a.local_gateway_route_table_id or '')}"],
        )


def _add_secrets_key(s: _Stack) -> None:
    """A KMS key for envelope encryption of Kubernetes Secrets (unless the spec names one)."""
    t = s.t
    if not t.secrets_encryption or t.secrets_key_arn is not None:
        return
    s.resource(
        "SecretsKey",
        "AWS::KMS::Key",
        {
            "Description": f"Envelope encryption of Kubernetes Secrets in EKS cluster {t.name}",
            "EnableKeyRotation": True,
            "KeyPolicy": {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "AccountAdministers",
                        "Effect": "Allow",
                        "Principal": {"AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}},
                        "Action": "kms:*",
                        "Resource": "*",
                    }
                ],
            },
            # no Tags: the Description names the cluster, and moto (the apply tests' AWS) cannot
            # create a key with Tags from a template
        },
        DeletionPolicy="Retain",
        UpdateReplacePolicy="Retain",
    )
    s.output(SECRETS_KEY_ARN.output, {"Fn::GetAtt": ["SecretsKey", "Arn"]}, "KMS key for Kubernetes Secrets")


def _add_pull_through_cache(s: _Stack) -> None:
    """Wavelength nodes without Carrier IPs: mirror public.ecr.aws into this account's ECR."""
    if not s.t.private_wavelength:
        return
    s.resource(
        "EcrPublicPullThroughCache",
        "AWS::ECR::PullThroughCacheRule",
        {"EcrRepositoryPrefix": ECR_PUBLIC_CACHE_PREFIX, "UpstreamRegistryUrl": "public.ecr.aws"},
    )


def _add_endpoints(s: _Stack) -> None:
    """Interface endpoints in the Region AZ subnets + the S3 gateway endpoint.

    For a private API endpoint, and for Wavelength nodes without Carrier IPs. Endpoints an
    existing VPC already has (``vpc.endpoints``) are reused, not duplicated: a second
    interface endpoint with private DNS for the same service cannot be created.
    """
    t = s.t
    if not t.needs_endpoints:
        return
    have = t.existing_endpoints
    services = list(INTERFACE_ENDPOINT_SERVICES)
    if has_outposts(t):
        services.append("sqs")  # the termination handler polls its queue
    wanted = [svc for svc in sorted(services) if svc not in have]
    if wanted:
        s.resource(
            "EndpointSecurityGroup",
            "AWS::EC2::SecurityGroup",
            {
                "GroupDescription": "HTTPS from the VPC to the interface VPC endpoints",
                "VpcId": _vpc_ref(t),
                "SecurityGroupIngress": [
                    {
                        "IpProtocol": "tcp",
                        "FromPort": 443,
                        "ToPort": 443,
                        "CidrIp": _vpc_cidr(t),
                        "Description": "HTTPS from anywhere in the VPC",
                    }
                ],
                "Tags": _tags(Name=f"{t.name}-endpoints"),
            },
        )
    region_subnets = [subnet_value(t, s.names[z.name]) for z in t.region_zones]
    for svc in wanted:
        s.resource(
            f"Endpoint{pascal(svc)}",
            "AWS::EC2::VPCEndpoint",
            {
                "VpcEndpointType": "Interface",
                "ServiceName": {"Fn::Sub": "com.amazonaws.${AWS::Region}." + svc},
                "VpcId": _vpc_ref(t),
                "SubnetIds": region_subnets,
                "SecurityGroupIds": [_ref("EndpointSecurityGroup")],
                "PrivateDnsEnabled": True,
            },
        )
    # the S3 gateway endpoint is routed only from route tables this stack owns
    if "s3" in have or not s.private_tables:
        return
    s.resource(
        "EndpointS3",
        "AWS::EC2::VPCEndpoint",
        {
            "VpcEndpointType": "Gateway",
            "ServiceName": {"Fn::Sub": "com.amazonaws.${AWS::Region}.s3"},
            "VpcId": _vpc_ref(t),
            "RouteTableIds": [_ref(name) for name in s.private_tables],
        },
        owner=TAIL,  # it names every private route table: after the edge groups when split
    )


def _add_outposts(s: _Stack) -> None:
    """Shared node SG (CIDR rules only), a rack spread placement group per Outpost, NTH queue."""
    t = s.t
    if not has_outposts(t):
        return
    s.resource(
        "SharedNodeSecurityGroup",
        "AWS::EC2::SecurityGroup",
        {
            "GroupDescription": "Shared node security group; CIDR rules only (no security group references)",
            "VpcId": _vpc_ref(t),
            "SecurityGroupIngress": _shared_sg_rules(t),
            "Tags": _tags(Name=f"{t.name}-shared-nodes"),
        },
    )
    s.output(SHARED_NODE_SG.output, _ref("SharedNodeSecurityGroup"), "Shared node security group (CIDR rules)")
    for z in t.of_kind(ZoneType.OUTPOST):
        n = s.names[z.name]
        s.resource(
            n.placement_group, "AWS::EC2::PlacementGroup", {"Strategy": "spread", "SpreadLevel": "rack"}, owner=z
        )
        s.output(n.placement_output.output, _ref(n.placement_group), f"Spread placement group of {z.name}", owner=z)
    s.res.update(_termination_queue(t))
    s.output(NTH_QUEUE_URL.output, _ref("NodeTerminationQueue"), "Queue of the termination handler")
    s.output(
        NTH_QUEUE_ARN.output, {"Fn::GetAtt": ["NodeTerminationQueue", "Arn"]}, "Queue ARN of the termination handler"
    )


def network_template(topology: Topology) -> Json:
    """The network stack as a plain dict (CloudFormation template), whole."""
    return _network(topology).template


@dataclass(frozen=True)
class _Built:
    template: Json
    owner: dict[str, str]


def _network(topology: Topology) -> _Built:
    s = _Stack(topology, zone_names(topology))
    for step in (
        _add_vpc,
        _add_zone_subnets,
        _add_region_egress,
        _add_local_zone_public,
        _add_private_routes,
        _add_carrier,
        _add_local_gateways,
        _add_endpoints,
        _add_pull_through_cache,
        _add_outposts,
        _add_secrets_key,
    ):
        step(s)
    what = "VPC, one subnet per zone" if not s.existing else f"reuses {topology.vpc_id}"
    template: Json = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": f"edgewise network for {topology.name} ({topology.region}): {what}, routing, endpoints",
    }
    if s.params:
        template["Parameters"] = s.params
    if s.conditions:
        template["Conditions"] = s.conditions
    template["Resources"] = s.res
    template["Outputs"] = s.outputs
    return _Built(template, s.owner)


def network_parts(topology: Topology) -> list[Part]:
    """The network as stacks: one when the template fits (see :mod:`.cfnsplit`), else the
    base stack, one per group of edge zones and the S3 gateway endpoint's."""
    built = _network(topology)
    return split_template(built.template, Split(
        owner=built.owner,
        zones=[z.name for z in topology.zones if not z.is_region],
        prefix_param="NetworkStackName",
        base_stack=network_stack(topology),
        group_suffix="-edge-{n:02d}",
        tail_suffix="-s3-endpoint",
    ))


def _shared_sg_rules(topology: Topology) -> list[Json]:
    """DNS (TCP+UDP 53) between Outpost subnets, then all traffic between node subnets.

    Every rule names a CIDR; a rule repeated for another zone (existing subnets without a
    known CIDR fall back to the VPC CIDR) is emitted once.
    """
    rules: list[Json] = []
    seen: set[str] = set()

    def add(rule: Json) -> None:
        # EC2 rejects two rules that differ only in their description
        key = repr((rule["IpProtocol"], rule.get("FromPort"), rule.get("ToPort"), rule["CidrIp"]))
        if key not in seen:
            seen.add(key)
            rules.append(rule)

    for z in topology.of_kind(ZoneType.OUTPOST):
        cidr = _zone_cidr(topology, z)
        for proto in ("tcp", "udp"):
            add(
                {
                    "IpProtocol": proto,
                    "FromPort": 53,
                    "ToPort": 53,
                    "CidrIp": cidr,
                    "Description": f"DNS {proto.upper()} from Outpost {z.name}",
                }
            )
    for z in topology.zones:
        add(
            {
                "IpProtocol": "-1",
                "CidrIp": _zone_cidr(topology, z),
                "Description": f"node-to-node from {z.kind.value} zone {z.name}",
            }
        )
    return rules


def _termination_queue(topology: Topology) -> Json:
    """SQS queue + EventBridge rules for aws-node-termination-handler in queue mode."""
    res: Json = {
        "NodeTerminationQueue": {
            "Type": "AWS::SQS::Queue",
            "Properties": {
                "MessageRetentionPeriod": 300,
                "SqsManagedSseEnabled": True,
                "Tags": _tags(Name=f"{topology.name}-node-termination"),
            },
        },
        "NodeTerminationQueuePolicy": {
            "Type": "AWS::SQS::QueuePolicy",
            "Properties": {
                "Queues": [_ref("NodeTerminationQueue")],
                "PolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": ["events.amazonaws.com", "sqs.amazonaws.com"]},
                            "Action": "sqs:SendMessage",
                            "Resource": {"Fn::GetAtt": ["NodeTerminationQueue", "Arn"]},
                        }
                    ],
                },
            },
        },
    }
    patterns: list[tuple[str, Json]] = [
        (
            "AsgTermination",
            {
                "source": ["aws.autoscaling"],
                "detail-type": ["EC2 Instance-terminate Lifecycle Action"],
            },
        ),
        (
            "SpotInterruption",
            {"source": ["aws.ec2"], "detail-type": ["EC2 Spot Instance Interruption Warning"]},
        ),
        (
            "Rebalance",
            {"source": ["aws.ec2"], "detail-type": ["EC2 Instance Rebalance Recommendation"]},
        ),
        (
            "InstanceStateChange",
            {"source": ["aws.ec2"], "detail-type": ["EC2 Instance State-change Notification"]},
        ),
        (
            "ScheduledChange",
            {
                "source": ["aws.health"],
                "detail-type": ["AWS Health Event"],
                "detail": {"service": ["EC2"], "eventTypeCategory": ["scheduledChange"]},
            },
        ),
    ]
    for name, pattern in patterns:
        res[f"NodeTerminationRule{name}"] = {
            "Type": "AWS::Events::Rule",
            "Properties": {
                "Description": f"{name} events for aws-node-termination-handler",
                "EventPattern": pattern,
                "State": "ENABLED",
                "Targets": [
                    {
                        "Id": "NodeTerminationQueue",
                        "Arn": {"Fn::GetAtt": ["NodeTerminationQueue", "Arn"]},
                    }
                ],
            },
        }
    return res


def network_artifact(topology: Topology) -> Artifact:
    """The whole network template as one file (what :func:`network_parts` splits)."""
    return Artifact("cluster/network.cfn.yaml", docs=(network_template(topology),))
