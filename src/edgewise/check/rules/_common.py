"""Helpers several rules share (eksctl node groups, CFN subnets, ingress backends)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from ...k8s.inventory import KObject, Workload, as_list, as_map
from ...routing import Endpoint, Resolution
from ...spec import ZoneType
from ..model import CfnTemplate, CheckContext, RoutedCall

SEED_WLZ = "AWS Containers blog 'Deploy geo-distributed Amazon EKS clusters on AWS Wavelength'"
SEED_LZ = "AWS Containers blog 'Managing edge-aware Service Mesh with Amazon EKS for AWS Local Zones'"
SEED_OP = "AWS Containers blog 'Deploy an Amazon EKS cluster across AWS Outposts with Intra-VPC communication'"
ALB_SUBNETS = "alb.ingress.kubernetes.io/subnets"
ALB_SCHEME = "alb.ingress.kubernetes.io/scheme"


#: the rules' names for the inventory's field readers
m = as_map
seq = as_list


@dataclass(frozen=True)
class NodeGroupRef:
    config: KObject
    path: tuple[str | int, ...]
    body: Mapping[str, Any]
    managed: bool
    zones: tuple[str, ...]

    @property
    def name(self) -> str:
        return str(self.body.get("name") or self.path[-1])


def eksctl_node_groups(ctx: CheckContext) -> Iterator[NodeGroupRef]:
    """Every eksctl node group with the topology zones it places nodes in."""
    for cfg in ctx.cluster_configs:
        subnets = m(m(cfg.body.get("vpc")).get("subnets"))
        by_name: dict[str, str] = {}
        for kind in ("private", "public"):
            for key, sub in m(subnets.get(kind)).items():
                by_name[str(key)] = str(m(sub).get("az") or key)
        for group, managed in (("nodeGroups", False), ("managedNodeGroups", True)):
            for i, ng in enumerate(seq(cfg.body.get(group))):
                body = m(ng)
                zones: list[str] = [str(z) for z in seq(body.get("availabilityZones"))]
                zones += [str(z) for z in seq(body.get("localZones"))]
                zones += [by_name.get(str(s), str(s)) for s in seq(body.get("subnets"))]
                arn = body.get("outpostARN")
                if arn and ctx.topology is not None:
                    zones += [z.name for z in ctx.topology.zones if z.outpost_arn == arn]
                labelled = m(body.get("labels")).get("edgewise.dev/zone")
                if labelled:
                    zones.append(str(labelled))
                yield NodeGroupRef(cfg, (group, i), body, managed, tuple(dict.fromkeys(zones)))


def cfn_subnet_zone(ctx: CheckContext, tpl: CfnTemplate, ref: Any) -> str | None:
    """Topology zone name of a subnet reference (Outpost subnets by their ARN)."""
    az, arn = ctx.cfn_subnet_zone(tpl, ref)
    if arn and ctx.topology is not None:
        for z in ctx.topology.zones:
            if z.outpost_arn == arn:
                return z.name
        return f"outpost:{arn}"
    return az


def ref_name(v: Any) -> str | None:
    """Logical id of ``{"Ref": id}``; None for anything else."""
    ref = m(v).get("Ref")
    return ref if isinstance(ref, str) else None


def tag_value(props: Mapping[str, Any], key: str) -> str | None:
    for tag in seq(props.get("Tags")):
        if m(tag).get("Key") == key and isinstance(m(tag).get("Value"), str):
            return str(m(tag)["Value"])
    return None


@dataclass(frozen=True)
class CfnSubnet:
    tpl: CfnTemplate
    logical_id: str
    props: Mapping[str, Any]
    default_route: Mapping[str, Any] | None  # the 0.0.0.0/0 route of its route table


def cfn_subnets_by_name(ctx: CheckContext) -> dict[str, CfnSubnet]:
    """``Name`` tag -> the ``AWS::EC2::Subnet`` of the templates that carries it (first wins).

    The AWS Load Balancer Controller accepts a subnet's Name tag in its subnets annotation,
    and the plan names the subnets it creates that way (their ids exist only once deployed).
    """
    out: dict[str, CfnSubnet] = {}
    all_routes = cfn_default_routes(ctx)
    for tpl in ctx.cfn_templates:
        routes = all_routes.get(id(tpl), {})
        for lid, props in tpl.of_type("AWS::EC2::Subnet"):
            name = tag_value(props, "Name")
            if name is not None:
                out.setdefault(name, CfnSubnet(tpl, lid, props, routes.get(lid)))
    return out


def cfn_default_routes(ctx: CheckContext) -> dict[int, dict[str, Mapping[str, Any]]]:
    """``id(template)`` -> subnet logical id -> Properties of the 0.0.0.0/0 route of its
    associated route table. Route tables and routes may be in another template than the
    association, imported from it (``Fn::ImportValue``)."""
    default: dict[tuple[int, str], Mapping[str, Any]] = {}
    for tpl in ctx.cfn_templates:
        for _, props in tpl.of_type("AWS::EC2::Route"):
            there, value = ctx.cfn_resolve(tpl, props.get("RouteTableId"))
            table = ref_name(value)
            if table is not None and props.get("DestinationCidrBlock") == "0.0.0.0/0":
                default.setdefault((id(there), table), props)
    out: dict[int, dict[str, Mapping[str, Any]]] = {}
    for tpl in ctx.cfn_templates:
        for _, props in tpl.of_type("AWS::EC2::SubnetRouteTableAssociation"):
            subnet = ref_name(props.get("SubnetId"))
            there, value = ctx.cfn_resolve(tpl, props.get("RouteTableId"))
            table = ref_name(value)
            if subnet is not None and table is not None and (id(there), table) in default:
                out.setdefault(id(tpl), {}).setdefault(subnet, default[(id(there), table)])
    return out


def alb_subnets(ing: KObject) -> list[str]:
    """The entries (ids or Name tags) of an Ingress's ALB subnets annotation."""
    return [s.strip() for s in str(ing.annotations.get(ALB_SUBNETS, "")).split(",") if s.strip()]


def ingress_subnet_zones(ctx: CheckContext, ing: KObject, by_name: Mapping[str, CfnSubnet]) -> set[str]:
    """Topology zones of the subnets an ALB Ingress names: by subnet id, zone name, or the
    Name tag of a subnet in the CloudFormation templates (``by_name``: :func:`cfn_subnets_by_name`)."""
    names = alb_subnets(ing)
    zones: set[str] = set()
    if ctx.topology is not None:
        zones.update(z.name for z in ctx.topology.zones if z.subnet_id in names or z.name in names)
    for n in names:
        sub = by_name.get(n)
        if sub is not None:
            zone = cfn_subnet_zone(ctx, sub.tpl, {"Ref": sub.logical_id})
            if zone is not None:
                zones.add(zone)
    return zones


def zone_kind(ctx: CheckContext, name: str | None) -> ZoneType | None:
    if name is None:
        return None
    if name.startswith("outpost:"):
        return ZoneType.OUTPOST
    z = ctx.zone(name)
    return z.kind if z is not None else None


def asg_zones(ctx: CheckContext, tpl: CfnTemplate, props: Mapping[str, Any]) -> list[str]:
    out = []
    for ref in seq(props.get("VPCZoneIdentifier")):
        z = cfn_subnet_zone(ctx, tpl, ref)
        if z:
            out.append(z)
    return out


def asg_launch_template(tpl: CfnTemplate, props: Mapping[str, Any]) -> tuple[str, Mapping[str, Any]] | None:
    spec = m(props.get("LaunchTemplate"))
    ref = spec.get("LaunchTemplateId") or spec.get("LaunchTemplateName")
    lid = None
    if isinstance(ref, Mapping):
        lid = ref.get("Ref") or (seq(ref.get("Fn::GetAtt")) or [None])[0]
    if not isinstance(lid, str):
        return None
    res = m(tpl.resources.get(lid))
    if res.get("Type") != "AWS::EC2::LaunchTemplate":
        return None
    return lid, m(m(res.get("Properties")).get("LaunchTemplateData"))


def ingress_backends(ing: KObject) -> Iterator[tuple[str, tuple[str | int, ...]]]:
    """(service name, path) of every backend of an Ingress."""
    spec = ing.spec
    default = m(m(spec.get("defaultBackend")).get("service")).get("name")
    if default:
        yield str(default), ("spec", "defaultBackend")
    for ri, rule in enumerate(seq(spec.get("rules"))):
        for pi, p in enumerate(seq(m(m(rule).get("http")).get("paths"))):
            name = m(m(m(p).get("backend")).get("service")).get("name")
            if name:
                yield str(name), ("spec", "rules", ri, "http", "paths", pi, "backend")


def is_alb(ing: KObject) -> bool:
    cls = str(ing.spec.get("ingressClassName") or ing.annotations.get("kubernetes.io/ingress.class", ""))
    return cls == "alb" or any(k.startswith("alb.ingress.kubernetes.io/") for k in ing.annotations)


def backend_zones(ctx: CheckContext, ing: KObject) -> set[str]:
    zones: set[str] = set()
    for name, _ in ingress_backends(ing):
        svc = ctx.inventory.service(ing.namespace, name)
        if svc is None:
            continue
        for w in ctx.inventory.select(svc):
            zones.update(w.zones)
    return zones


def unreachable(ctx: CheckContext, zone: str, eps: tuple[Endpoint, ...]) -> list[str]:
    topo = ctx.topology
    assert topo is not None
    return sorted({e.zone for e in eps if not topo.reachable(zone, e.zone)})


def any_reachable(ctx: CheckContext, zone: str, res: Resolution) -> bool:
    topo = ctx.topology
    assert topo is not None
    # every tier's endpoints, as they come: Resolution.endpoints would first build the
    # deduplicated tuple, which does not change the answer
    return any(topo.reachable(zone, e.zone) for t in res.tiers for e in t.endpoints)


def caller_object(ctx: CheckContext, rc: RoutedCall) -> KObject | None:
    w = ctx.inventory.workload_by_name(rc.call.namespace, rc.call.workload)
    return w.obj if w is not None else None


def describe(pairs: dict[str, list[str]], limit: int = 5) -> str:
    """``from A -> X, Y; from B -> Z`` for the first ``limit`` caller zones, then a count."""
    items = sorted(pairs.items())
    text = "; ".join(f"from {z} -> {', '.join(shorten(bad, limit))}" for z, bad in items[:limit])
    if len(items) > limit:
        text += f"; and from {len(items) - limit} more zone(s)"
    return text


def shorten(names: list[str], limit: int) -> list[str]:
    return names if len(names) <= limit else [*names[:limit], f"{len(names) - limit} more"]


def describe_reasons(by_zone: dict[str, list[str]], limit: int = 6) -> str:
    """``zone-a, zone-b: reason; zone-c: other reason`` (zones with the same reasons merged)."""
    merged: dict[str, list[str]] = {}
    for zone, reasons in by_zone.items():
        merged.setdefault("; ".join(reasons) or "no reason found", []).append(zone)
    items = sorted(merged.items(), key=lambda kv: kv[1][0])
    text = " | ".join(f"{', '.join(shorten(zones, 4))}: {why}" for why, zones in items[:limit])
    if len(items) > limit:
        text += f" | and {len(items) - limit} more"
    return text


def entry_services(ctx: CheckContext) -> set[tuple[str, str]]:
    """(namespace, name) of Services called from outside the cluster: type LoadBalancer or
    NodePort, or the backend of an Ingress. With no known in-cluster caller, their
    traffic comes from a load balancer (an ALB with IP targets bypasses kube-proxy), so
    east-west routing rules have nothing to judge."""
    out = {(s.namespace, s.name) for s in ctx.inventory.services() if s.type in ("LoadBalancer", "NodePort")}
    for ing in ctx.of_kind("Ingress"):
        out.update((ing.namespace, name) for name, _ in ingress_backends(ing))
    return out


def is_coredns(w: Workload) -> bool:
    """The cluster DNS (CoreDNS in kube-system): EW108 owns its placement hazard, so the
    generic placement/routing rules leave it (one hazard, one finding)."""
    return w.namespace == "kube-system" and (w.name == "coredns" or w.pod_labels.get("k8s-app") == "kube-dns")
