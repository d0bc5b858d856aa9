"""A topology spec from a :class:`~edgewise.aws.discover.Discovery`, with comments that
say where each value came from, for the user to edit."""

from __future__ import annotations

import re

from .discover import DiscoveredOutpost, DiscoveredZone, Discovery

__all__ = ["discovery_spec"]

#: node group instance types to propose, best first; the first one the zone offers wins
PREFERRED = {
    "availability-zone": ("m6i.large", "m5.large", "t3.large", "t3.medium"),
    "local": ("m6i.large", "m5.large", "c5.large", "t3.xlarge", "r5.large"),
    "wavelength": ("t3.xlarge", "t3.medium", "r5.2xlarge", "g4dn.2xlarge"),
    "outpost": ("m5.xlarge", "m5.large", "c5.xlarge", "r5.large"),
}
#: Region AZs that get a node group in the proposed spec (EKS needs two AZs)
REGION_NODE_AZS = 2


def pick_instance_type(kind: str, offered: list[str]) -> str | None:
    for t in PREFERRED[kind]:
        if t in offered:
            return t
    return sorted(offered)[0] if offered else None


def _label(name: str) -> str:
    out = re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")[:63].strip("-")
    return out or "outpost"


def _zone_lines(z: DiscoveredZone, node_group: bool, subnet_id: str | None, vpc: bool) -> tuple[list[str], bool]:
    """Lines of one zone entry; False when it cannot be used (commented out)."""
    head = [
        f"    # {z.name} ({z.zone_id}): {z.type}, group {z.group}, network border group "
        f"{z.network_border_group}, {z.opt_in_status}" + (f", parent {z.parent_zone}" if z.parent_zone else "")
        + "  [ec2:DescribeAvailabilityZones]",
        f"    # {len(z.instance_types)} instance types offered  [ec2:DescribeInstanceTypeOfferings]"
        + ("; EBS: gp2 only  [AWS documentation]" if z.type == "wavelength" else ""),
    ]
    body = [f"    - name: {z.name}", f"      type: {z.type}"]
    reason = ""
    if vpc:
        if subnet_id is None:
            reason = "the VPC has no subnet in this zone"
        else:
            body.append(f"      subnet: {{id: {subnet_id}}}  # [ec2:DescribeSubnets]")
    if not z.usable:
        reason = reason or f"zone group {z.group} is {z.opt_in_status}; `edgewise apply` opts in"
    itype = pick_instance_type(z.type, z.instance_types)
    if node_group or z.type != "availability-zone":
        if itype is None:
            reason = reason or "no instance type is offered in this zone"
        else:
            desired = 2 if z.type == "availability-zone" else 1
            body.append(f"      nodeGroup: {{instanceType: {itype}, desired: {desired}}}  # offered here")
    if reason:
        return [*head, f"    # not used: {reason}; uncomment to use", *("    #" + b[4:] for b in body)], False
    return [*head, *body], True


def _outpost_lines(o: DiscoveredOutpost, subnet_id: str | None, vpc: bool) -> list[str]:
    head = [
        f"    # Outpost {o.id} ({o.name}), {o.state}, anchored to {o.availability_zone}  [outposts:ListOutposts]",
        f"    # installed instance types: {', '.join(o.instance_types) or 'none'}  "
        "[outposts:GetOutpostInstanceTypes]; EBS: gp2 only  [AWS documentation]",
    ]
    body = [
        f"    - name: {_label(o.name)}",
        "      type: outpost",
        f"      outpostArn: {o.arn}",
        f"      parentZone: {o.availability_zone}",
    ]
    reason = ""
    if vpc:
        if subnet_id is None:
            reason = "the VPC has no subnet on this Outpost"
        else:
            body.append(f"      subnet: {{id: {subnet_id}}}  # [ec2:DescribeSubnets]")
    itype = pick_instance_type("outpost", o.instance_types)
    if itype is None:
        reason = reason or "no instance type is installed on this Outpost"
    else:
        body.append(f"      nodeGroup: {{instanceType: {itype}, desired: 1}}  # installed on the Outpost")
    if o.state and o.state.upper() != "ACTIVE":
        reason = reason or f"the Outpost is {o.state}"
    if reason:
        return [*head, f"    # not used: {reason}; uncomment to use", *("    #" + b[4:] for b in body)]
    return [*head, *body]


def discovery_spec(d: Discovery, name: str, kubernetes_version: str = "1.31") -> str:
    """The Topology document (YAML text with comments)."""
    vpc = d.vpc
    lines = [
        f"# Discovered by `edgewise discover` in {d.region}: every value below was read from this",
        "# account through the API named in [brackets]; zone names and what each zone offers",
        "# differ between accounts. Edit freely, then `edgewise validate --aws` and `edgewise plan`.",
        "apiVersion: edgewise.dev/v1alpha1",
        "kind: Topology",
        "metadata:",
        f"  name: {name}",
        "spec:",
        f"  region: {d.region}",
        f'  kubernetesVersion: "{kubernetes_version}"',
        "  vpc:",
    ]
    subnet_in: dict[str, str] = {}
    subnet_on: dict[str, str] = {}
    if vpc is None:
        lines.append("    cidr: 10.0.0.0/16  # a new VPC; or discover with --vpc-id to use an existing one")
    else:
        lines.append(f"    id: {vpc.id}  # {vpc.cidr}  [ec2:DescribeVpcs]")
        for s in vpc.subnets:
            if s.get("outpostArn"):
                subnet_on.setdefault(str(s["outpostArn"]), str(s["id"]))
            else:
                subnet_in.setdefault(str(s["zone"]), str(s["id"]))
    lines.append("  zones:")
    azs_with_nodes = 0
    for z in d.zones:
        want_nodes = False
        if z.type == "availability-zone" and azs_with_nodes < REGION_NODE_AZS and z.usable:
            want_nodes = vpc is None or z.name in subnet_in
        zl, used = _zone_lines(z, want_nodes, subnet_in.get(z.name), vpc is not None)
        if used and want_nodes:
            azs_with_nodes += 1
        lines += zl
    for o in d.outposts:
        lines += _outpost_lines(o, subnet_on.get(o.arn), vpc is not None)
    return "\n".join(lines) + "\n"
