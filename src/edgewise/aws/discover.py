"""``edgewise discover``: what the account has in one Region, as data and as an editable spec.

Read through the EC2 and Outposts APIs:

* every zone (``DescribeAvailabilityZones --all-availability-zones``) with its type, parent
  zone, network border group, zone group and opt-in status. Zone names map to different
  physical zones per account for Region AZs, and Wavelength zone mappings "might vary
  between AWS accounts", which is why the spec is read from the account and not the catalog
  (https://docs.aws.amazon.com/wavelength/latest/developerguide/wavelength-quotas.html);
* the instance types offered per zone (``DescribeInstanceTypeOfferings``, location type
  ``availability-zone``, which covers Local and Wavelength Zones too);
* the Outposts (``ListOutposts``) and the instance types installed on each
  (``GetOutpostInstanceTypes``);
* with ``--vpc-id``: the VPC's subnets, route tables, carrier gateways and endpoints.

EBS volume types per zone have no API. What is known comes from the documentation: only gp2
in Wavelength Zones and on Outposts (the spec's semantic check enforces it); Local Zones
vary per zone (https://aws.amazon.com/about-aws/global-infrastructure/localzones/features/),
so discover says "unknown" there rather than guess.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .session import Aws, aws_errors

__all__ = ["DiscoveredOutpost", "DiscoveredVpc", "DiscoveredZone", "Discovery", "discover", "discover_vpc", "offerings"]

#: DescribeAvailabilityZones ZoneType -> spec zone type
ZONE_TYPES = {"availability-zone": "availability-zone", "local-zone": "local", "wavelength-zone": "wavelength"}
#: only gp2 in Wavelength Zones and on Outposts
# https://docs.aws.amazon.com/wavelength/latest/developerguide/wavelength-quotas.html
GP2_ONLY_NOTE = "gp2 only (AWS documentation; no API lists EBS volume types per zone)"
UNKNOWN_EBS_NOTE = "unknown: no API lists EBS volume types per Local Zone; see the Local Zones features page"


@dataclass
class DiscoveredZone:
    name: str
    zone_id: str
    type: str  # spec zone type: availability-zone | local | wavelength
    group: str
    network_border_group: str
    opt_in_status: str  # opt-in-not-required | opted-in | not-opted-in
    parent_zone: str | None
    state: str
    instance_types: list[str] = field(default_factory=list)

    @property
    def usable(self) -> bool:
        return self.opt_in_status != "not-opted-in" and self.state == "available"

    @property
    def ebs_volume_types(self) -> list[str] | None:
        """gp2 only in Wavelength Zones; unknown (None) elsewhere: no API says."""
        return ["gp2"] if self.type == "wavelength" else None


@dataclass
class DiscoveredOutpost:
    id: str
    arn: str
    name: str
    availability_zone: str
    state: str
    instance_types: list[str] = field(default_factory=list)


@dataclass
class DiscoveredVpc:
    id: str
    cidr: str
    subnets: list[dict[str, Any]] = field(default_factory=list)
    route_tables: list[dict[str, Any]] = field(default_factory=list)
    carrier_gateways: list[str] = field(default_factory=list)
    endpoints: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Discovery:
    region: str
    zones: list[DiscoveredZone]
    outposts: list[DiscoveredOutpost]
    vpc: DiscoveredVpc | None = None

    def zone(self, name: str) -> DiscoveredZone | None:
        return next((z for z in self.zones if z.name == name), None)

    def outpost(self, outpost_id: str) -> DiscoveredOutpost | None:
        return next((o for o in self.outposts if o.id == outpost_id), None)

    def to_json(self) -> dict[str, Any]:
        return {
            "region": self.region,
            "zones": [
                {
                    "name": z.name,
                    "zoneId": z.zone_id,
                    "type": z.type,
                    "group": z.group,
                    "networkBorderGroup": z.network_border_group,
                    "optInStatus": z.opt_in_status,
                    "parentZone": z.parent_zone,
                    "state": z.state,
                    "instanceTypes": z.instance_types,
                    "ebsVolumeTypes": z.ebs_volume_types,
                }
                for z in self.zones
            ],
            "outposts": [
                {
                    "id": o.id,
                    "arn": o.arn,
                    "name": o.name,
                    "availabilityZone": o.availability_zone,
                    "state": o.state,
                    "instanceTypes": o.instance_types,
                    "ebsVolumeTypes": ["gp2"],
                }
                for o in self.outposts
            ],
            "vpc": None
            if self.vpc is None
            else {
                "id": self.vpc.id,
                "cidr": self.vpc.cidr,
                "subnets": self.vpc.subnets,
                "routeTables": self.vpc.route_tables,
                "carrierGateways": self.vpc.carrier_gateways,
                "endpoints": self.vpc.endpoints,
            },
        }


def _zones(aws: Aws) -> list[DiscoveredZone]:
    with aws_errors("listing the zones (ec2:DescribeAvailabilityZones)"):
        raw = aws.client("ec2").describe_availability_zones(AllAvailabilityZones=True)["AvailabilityZones"]
    out = []
    for z in raw:
        ztype = ZONE_TYPES.get(z.get("ZoneType", "availability-zone"))
        if ztype is None:
            continue
        out.append(
            DiscoveredZone(
                name=z["ZoneName"],
                zone_id=z.get("ZoneId", ""),
                type=ztype,
                group=z.get("GroupName", aws.region),
                network_border_group=z.get("NetworkBorderGroup", aws.region),
                opt_in_status=z.get("OptInStatus", "opt-in-not-required"),
                parent_zone=z.get("ParentZoneName"),
                state=z.get("State", "available"),
            )
        )
    return sorted(out, key=lambda z: (z.type != "availability-zone", z.type, z.name))


def offerings(aws: Aws, zones: list[DiscoveredZone], only_types: list[str] | None = None) -> None:
    """Fill ``instance_types`` of ``zones`` (only ``only_types``, when given, to ask less)."""
    by_name = {z.name: z for z in zones}
    names = sorted(by_name)
    extra = [{"Name": "instance-type", "Values": sorted(set(only_types))}] if only_types else []
    with aws_errors("listing instance type offerings (ec2:DescribeInstanceTypeOfferings)"):
        # the location filter takes a list; ask in batches to stay under the filter limit
        for i in range(0, len(names), 100):
            for o in aws.pages(
                "ec2",
                "describe_instance_type_offerings",
                "InstanceTypeOfferings",
                LocationType="availability-zone",
                Filters=[{"Name": "location", "Values": names[i : i + 100]}, *extra],
            ):
                z = by_name.get(o.get("Location", ""))
                if z is not None:
                    z.instance_types.append(o["InstanceType"])
    for z in zones:
        z.instance_types = sorted(set(z.instance_types))


def _outposts(aws: Aws, only: set[str] | None = None) -> list[DiscoveredOutpost]:
    out = []
    with aws_errors("listing the Outposts (outposts:ListOutposts)"):
        for o in aws.pages("outposts", "list_outposts", "Outposts"):
            out.append(
                DiscoveredOutpost(
                    id=o["OutpostId"],
                    arn=o["OutpostArn"],
                    name=o.get("Name", o["OutpostId"]),
                    availability_zone=o.get("AvailabilityZone", ""),
                    state=o.get("LifeCycleStatus", ""),
                )
            )
    if only is not None:
        out = [o for o in out if o.id in only]
    for op in out:
        with aws_errors(f"listing the instance types of Outpost {op.id} (outposts:GetOutpostInstanceTypes)"):
            types = aws.pages("outposts", "get_outpost_instance_types", "InstanceTypes", OutpostId=op.id)
        op.instance_types = sorted({t["InstanceType"] for t in types})
    return sorted(out, key=lambda o: o.id)


def _tag(tags: list[dict[str, str]] | None, key: str = "Name") -> str | None:
    return next((t["Value"] for t in tags or [] if t.get("Key") == key), None)


def discover_vpc(aws: Aws, vpc_id: str) -> DiscoveredVpc:
    """Subnets, route tables, carrier gateways and endpoints of an existing VPC."""
    ec2 = aws.client("ec2")
    flt = [{"Name": "vpc-id", "Values": [vpc_id]}]
    with aws_errors(f"reading VPC {vpc_id}"):
        vpcs = ec2.describe_vpcs(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["Vpcs"]
        if not vpcs:
            from ..errors import InputError

            raise InputError.single("--vpc-id", f"no VPC {vpc_id} in {aws.region}",
                                    hint=f"list them with `aws ec2 describe-vpcs --region {aws.region}`")
        tables = aws.pages("ec2", "describe_route_tables", "RouteTables", Filters=flt)
        subnets = aws.pages("ec2", "describe_subnets", "Subnets", Filters=flt)
        cgws = aws.pages("ec2", "describe_carrier_gateways", "CarrierGateways", Filters=flt)
        endpoints = aws.pages("ec2", "describe_vpc_endpoints", "VpcEndpoints", Filters=flt)
    main_rt = next(
        (t["RouteTableId"] for t in tables for a in t.get("Associations", []) if a.get("Main")), None
    )
    table_of = {
        a["SubnetId"]: t["RouteTableId"] for t in tables for a in t.get("Associations", []) if a.get("SubnetId")
    }
    return DiscoveredVpc(
        id=vpc_id,
        cidr=vpcs[0]["CidrBlock"],
        subnets=sorted(
            (
                {
                    "id": s["SubnetId"],
                    "zone": s["AvailabilityZone"],
                    "cidr": s["CidrBlock"],
                    "name": _tag(s.get("Tags")),
                    "routeTable": table_of.get(s["SubnetId"], main_rt),
                    **({"outpostArn": s["OutpostArn"]} if s.get("OutpostArn") else {}),
                }
                for s in subnets
            ),
            key=lambda s: (s["zone"], s["id"]),
        ),
        route_tables=sorted(
            (
                {
                    "id": t["RouteTableId"],
                    "main": any(a.get("Main") for a in t.get("Associations", [])),
                    "routes": sorted(
                        f"{r.get('DestinationCidrBlock', r.get('DestinationPrefixListId', '?'))} -> "
                        + next(
                            (str(r[k]) for k in ("GatewayId", "NatGatewayId", "CarrierGatewayId",
                                                 "TransitGatewayId", "VpcPeeringConnectionId",
                                                 "NetworkInterfaceId", "LocalGatewayId") if r.get(k)),
                            "?",
                        )
                        for r in t.get("Routes", [])
                    ),
                }
                for t in tables
            ),
            key=lambda t: t["id"],
        ),
        carrier_gateways=sorted(c["CarrierGatewayId"] for c in cgws if c.get("State", "available") != "deleted"),
        endpoints=sorted(
            (
                {
                    "id": e["VpcEndpointId"],
                    "service": e["ServiceName"],
                    "type": e.get("VpcEndpointType", ""),
                    "privateDns": bool(e.get("PrivateDnsEnabled", False)),
                    "state": e.get("State", ""),
                }
                for e in endpoints
                if str(e.get("State", "available")).lower() not in ("deleted", "deleting", "failed")
            ),
            key=lambda e: (e["service"], e["id"]),
        ),
    )


def discover(
    aws: Aws,
    vpc_id: str | None = None,
    *,
    zones: set[str] | None = None,
    instance_types: list[str] | None = None,
    outposts: set[str] | None = None,
) -> Discovery:
    """Everything, or (for ``validate --aws``) only the offerings of ``zones`` restricted to
    ``instance_types`` and only the Outposts in ``outposts``."""
    aws.check_credentials()
    found = _zones(aws)
    offerings(aws, [z for z in found if zones is None or z.name in zones], instance_types)
    return Discovery(aws.region, found, _outposts(aws, outposts),
                     discover_vpc(aws, vpc_id) if vpc_id is not None else None)
