"""``edgewise validate --aws``: check a spec against the account it will be deployed to.

Problems, each pointed at the spec's file:line and field:

* an edge zone whose zone group is not opted in (the catalog cannot know an account's
  opt-in status), or a zone the account does not have;
* a node group instance type not offered in its zone, or not installed on its Outpost;
* a subnet id that does not exist, is in another zone or on another Outpost, or is
  outside ``vpc.id``;
* an existing carrier gateway or VPC endpoint in ``vpc.id`` that the network stack
  would duplicate: a second interface endpoint with private DNS for the same service fails
  with "conflicting DNS domain"
  (https://dev.classmethod.jp/articles/when-creating-a-vpc-endpoint-a-conflict-occurs-what-is-the-problem/),
  and the network stack always creates its own carrier gateway.
"""

from __future__ import annotations

from ..errors import Problem
from ..spec import Spec, ZoneType
from ..topology import Topology
from .discover import DiscoveredZone, Discovery, discover, discover_vpc, offerings
from .session import Aws, aws_errors

__all__ = ["account_problems"]


def _near(offered: list[str], wanted: str, n: int = 5) -> str:
    family = wanted.split(".", 1)[0]
    same = [t for t in offered if t.split(".", 1)[0] == family]
    pool = same or offered
    return ", ".join(pool[:n]) + (" ..." if len(pool) > n else "")


def account_problems(spec: Spec, topology: Topology, aws: Aws) -> list[Problem]:
    """Every way the spec disagrees with the account (empty when it fits)."""
    t = spec.topology.spec
    doc = spec.topology_doc
    d: Discovery = discover(
        aws,
        zones={z.name for z in t.zones},
        instance_types=[z.node_group.instance_type for z in t.zones if z.node_group is not None],
        outposts={(z.outpost_arn or "").rsplit("/", 1)[-1] for z in t.zones if z.outpost_arn},
    )
    out: list[Problem] = []
    opt_in_hint = ("run `edgewise apply` (it opts in first) or `aws ec2 modify-availability-zone-group "
                   "--group-name {g} --opt-in-status opted-in --region {r}`")
    subnets: dict[str, dict[str, str]] = {}
    ids = sorted({z.subnet.id for z in t.zones if z.subnet is not None and z.subnet.id is not None})
    if ids:
        with aws_errors("reading the spec's subnets (ec2:DescribeSubnets)"):
            found = aws.pages("ec2", "describe_subnets", "Subnets", Filters=[{"Name": "subnet-id", "Values": ids}])
        subnets = {s["SubnetId"]: s for s in found}
    for i, z in enumerate(t.zones):
        p = ("spec", "zones", i)
        model = topology.zones[i] if i < len(topology.zones) else None
        kind = model.kind if model is not None else z.type
        offered: list[str] | None = None
        where = ""
        if kind is ZoneType.OUTPOST:
            op_id = (z.outpost_arn or "").rsplit("/", 1)[-1]
            op = d.outpost(op_id)
            if op is None:
                out.append(doc.problem((*p, "outpostArn"), f"the account has no Outpost {op_id} in {t.region}",
                                       "list yours with `edgewise discover` or `aws outposts list-outposts`"))
            else:
                offered, where = op.instance_types, f"on Outpost {op_id}"
                if z.parent_zone and op.availability_zone and z.parent_zone != op.availability_zone:
                    out.append(doc.problem((*p, "parentZone"),
                                           f"Outpost {op_id} is anchored to {op.availability_zone}, "
                                           f"not {z.parent_zone}",
                                           f"set parentZone: {op.availability_zone}"))
        else:
            dz = d.zone(z.name)
            if dz is None:
                out.append(doc.problem((*p, "name"), f"the account has no zone {z.name!r} in {t.region}",
                                       "zone names differ between accounts; list yours with `edgewise discover`"))
                continue
            if dz.opt_in_status == "not-opted-in":
                out.append(doc.problem((*p, "name"),
                                       f"zone group {dz.group} of {z.name} is not opted in",
                                       opt_in_hint.format(g=dz.group, r=t.region)))
            offered, where = dz.instance_types, f"in {z.name}"
        if offered is not None and z.node_group is not None and z.node_group.instance_type not in offered:
            itype = z.node_group.instance_type
            if kind is not ZoneType.OUTPOST:  # only the spec's types were asked for: ask for all
                dz = d.zone(z.name)
                assert dz is not None
                full = DiscoveredZone(**{**dz.__dict__, "instance_types": []})
                offerings(aws, [full])
                offered = full.instance_types
            alt = _near(offered, itype)
            out.append(doc.problem((*p, "nodeGroup", "instanceType"), f"instance type {itype} is not offered {where}",
                                   f"use one that is: {alt}" if alt else "no instance type is offered there"))
        if z.subnet is not None and z.subnet.id is not None:
            s = subnets.get(z.subnet.id)
            q = (*p, "subnet", "id")
            if s is None:
                out.append(doc.problem(q, f"subnet {z.subnet.id} does not exist in {t.region}",
                                       "list the VPC's subnets with `edgewise discover --vpc-id ...`"))
                continue
            if t.vpc.id is not None and s.get("VpcId") != t.vpc.id:
                out.append(doc.problem(q, f"subnet {z.subnet.id} is in {s.get('VpcId')}, not in vpc.id {t.vpc.id}",
                                       "use a subnet of that VPC"))
            if kind is ZoneType.OUTPOST:
                if s.get("OutpostArn") != z.outpost_arn:
                    out.append(doc.problem(q, f"subnet {z.subnet.id} is not on Outpost "
                                              f"{(z.outpost_arn or '').rsplit('/', 1)[-1]}"
                                              + (f" (it is in {s.get('AvailabilityZone')})" if not s.get("OutpostArn")
                                                 else f" (it is on {s.get('OutpostArn')})"),
                                           "use a subnet created on this Outpost"))
            elif s.get("AvailabilityZone") != z.name:
                out.append(doc.problem(q, f"subnet {z.subnet.id} is in zone {s.get('AvailabilityZone')}, not {z.name}",
                                       "use the subnet of this zone, or move the entry to the subnet's zone"))
    if t.vpc.id is not None:
        vpc = discover_vpc(aws, t.vpc.id)
        if vpc.carrier_gateways and topology.of_kind(ZoneType.WAVELENGTH):
            out.append(doc.problem(("spec", "vpc", "id"),
                                   f"VPC {t.vpc.id} already has carrier gateway {', '.join(vpc.carrier_gateways)}; "
                                   "the network stack creates its own",
                                   "reuse it: route the Wavelength subnets through it and drop the stack's "
                                   "CarrierGateway, or delete the existing one if nothing uses it"))
        if topology.private_endpoint:
            planned = _planned_endpoint_services(topology)
            for e in vpc.endpoints:
                svc = str(e["service"]).removeprefix(f"com.amazonaws.{t.region}.")
                if svc in planned and (e["type"] != "Interface" or e["privateDns"]):
                    out.append(doc.problem(("spec", "vpc", "id"),
                                           f"VPC {t.vpc.id} already has a {e['type']} endpoint {e['id']} for "
                                           f"{e['service']}; the network stack creates one for the same service",
                                           "reuse it (remove that endpoint from cluster/network.cfn.yaml before "
                                           "deploying) or delete the existing one"))
    return out


def _planned_endpoint_services(topology: Topology) -> set[str]:
    """Short service names (``ec2``, ``s3``, ...) of the endpoints the network stack creates."""
    from ..plan.cluster.network import network_template

    out: set[str] = set()
    for res in network_template(topology).get("Resources", {}).values():
        if res.get("Type") == "AWS::EC2::VPCEndpoint":
            name = res["Properties"].get("ServiceName")
            text = name.get("Fn::Sub", "") if isinstance(name, dict) else str(name)
            out.add(text.removeprefix("com.amazonaws.${AWS::Region}.").removeprefix(f"com.amazonaws.{topology.region}."))
    return out
