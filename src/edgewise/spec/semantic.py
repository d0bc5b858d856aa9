"""Checks across fields and against the zone catalog, after the types are right."""

from __future__ import annotations

import ipaddress
import re
from collections import Counter
from collections.abc import Sequence

from ..catalog import load_catalog
from ..errors import InputError, Problem
from .models import (
    ENDPOINT_SERVICES,
    KMS_KEY_ARN,
    MAX_NODES_PER_CLUSTER,
    OUTPOST_ARN,
    Application,
    EndpointAccess,
    Failover,
    Placement,
    ZoneSpec,
    ZoneType,
)
from .names import shared_namespace_clashes, zone_slug
from .yamlsource import Document

__all__ = ["resolve_zone_type", "validate_semantics"]

EDGE_TYPES = {ZoneType.LOCAL, ZoneType.WAVELENGTH, ZoneType.OUTPOST}
GP2_ONLY = {ZoneType.WAVELENGTH, ZoneType.OUTPOST}


def is_region_az_name(name: str, region: str | None) -> bool:
    """``<region><letter>``: an Availability Zone name of ``region``.

    AZ letters are mapped per account in the oldest Regions and Regions add zones, so the
    catalog cannot list every account's letters; the name alone says what it is.
    """
    return region is not None and len(name) == len(region) + 1 and name.startswith(region) and name[-1].isalpha() \
        and name[-1].islower()


def resolve_zone_type(name: str, given: ZoneType | None, region: str | None = None) -> ZoneType | None:
    if given is not None:
        return given
    entry = load_catalog().zones.get(name)
    if entry is not None:
        return ZoneType(entry.type)
    return ZoneType.AVAILABILITY_ZONE if is_region_az_name(name, region) else None


#: unknown names that get a "did you mean" (each costs a fuzzy match over the catalog)
SUGGESTIONS = 20
#: names longer than this are not matched at all (catalog names are far shorter)
MAX_SUGGESTED_LENGTH = 64


def _topology_problems(spec: object) -> tuple[list[Problem], dict[str, ZoneType]]:
    from .loader import Spec

    assert isinstance(spec, Spec)
    cat = load_catalog()
    t = spec.topology.spec
    doc = spec.topology_doc
    out: list[Problem] = []
    types: dict[str, ZoneType] = {}

    if t.region not in cat.regions:
        # A Region the catalog does not know yet is accepted when every zone says what it is
        # and one Region AZ says where it is; a near miss of a known Region is a typo.
        near = cat.suggest_region(t.region) if len(t.region) <= MAX_SUGGESTED_LENGTH else []
        typed = all(z.type is not None for z in t.zones)
        located = any(z.type is ZoneType.AVAILABILITY_ZONE and z.location is not None for z in t.zones)
        if near or not typed:
            hint = f"did you mean '{near[0]}'? " if near else ""
            hint += ("for a Region the catalog does not know yet, give every zone its 'type' and one "
                     "Availability Zone a 'location'; known Regions: " + ", ".join(sorted(cat.regions)))
            out.append(doc.problem(("spec", "region"), f"Region {t.region!r} is not in the zone catalog", hint))
        elif not located:
            out.append(doc.problem(("spec", "zones"),
                                   f"Region {t.region!r} is not in the zone catalog, so its location is unknown",
                                   "give one of its Availability Zones a location: {lat: ..., lon: ...} "
                                   "(latency is estimated from it)"))

    # suggestions cost a fuzzy match over the catalog each: only the first few problems get one
    budget = [SUGGESTIONS]

    def suggest_zone(name: str) -> list[str]:
        if budget[0] <= 0 or len(name) > MAX_SUGGESTED_LENGTH:
            return []
        budget[0] -= 1
        return cat.suggest_zone(name, t.region)

    counts = Counter(z.name for z in t.zones)
    seen: set[str] = set()
    for i, z in enumerate(t.zones):
        p = ("spec", "zones", i)
        if counts[z.name] > 1 and z.name in seen:
            out.append(doc.problem((*p, "name"), f"zone {z.name!r} is listed twice",
                                   "list each zone once; put all its settings in one entry"))
            continue
        seen.add(z.name)
        entry = cat.zones.get(z.name)
        ztype = resolve_zone_type(z.name, z.type, t.region)
        if ztype is None:
            near = suggest_zone(z.name)
            hint = (f"did you mean '{near[0]}'? " if near else "") + (
                "if the zone is real but not in the catalog, give its 'type' "
                "(availability-zone, local, wavelength or outpost)")
            out.append(doc.problem((*p, "name"), f"unknown zone {z.name!r} (not in the built-in catalog)", hint))
            continue
        types[z.name] = ztype
        if entry is not None:
            if entry.region != t.region:
                out.append(doc.problem((*p, "name"),
                                       f"zone {z.name!r} belongs to Region {entry.region}, not {t.region}",
                                       "one topology spans one parent Region; use a zone of that Region"))
            if z.type is not None and z.type.value != entry.type:
                out.append(doc.problem((*p, "type"),
                                       f"the catalog says {z.name!r} is a {entry.type} zone, not {z.type.value}",
                                       f"remove 'type' or set it to {entry.type}"))
        elif ztype is not ZoneType.OUTPOST and not z.name.startswith(t.region + "-") and not (
            ztype is ZoneType.AVAILABILITY_ZONE and z.name[:-1] == t.region
        ):
            out.append(doc.problem((*p, "name"),
                                   f"zone name {z.name!r} does not belong to Region {t.region}",
                                   f"EC2 zone names start with the Region name, e.g. {t.region}a"))
        if ztype is ZoneType.OUTPOST:
            if z.outpost_arn is None:
                out.append(doc.problem(p, "an Outpost zone needs 'outpostArn'",
                                       "add outpostArn: arn:aws:outposts:<region>:<account>:outpost/op-<id>"))
            else:
                m = OUTPOST_ARN.match(z.outpost_arn)
                if m and m.group(1) != t.region:
                    out.append(doc.problem((*p, "outpostArn"),
                                           f"the Outpost is in Region {m.group(1)}, the topology in {t.region}",
                                           "an Outpost is anchored to one Region; use an Outpost of this Region"))
            if z.parent_zone is None:
                out.append(doc.problem(p, "an Outpost zone needs 'parentZone' (the AZ it is anchored to)",
                                       f"add parentZone: {t.region}a (or the AZ of your Outpost)"))
        else:
            for field, value in (("outpostArn", z.outpost_arn), ("parentZone", z.parent_zone)):
                if value is not None:
                    out.append(doc.problem((*p, field), f"'{field}' applies only to Outpost zones",
                                           "remove it, or set type: outpost"))
        if z.customer_owned_ipv4_pool is not None and ztype is not ZoneType.OUTPOST:
            out.append(doc.problem((*p, "customerOwnedIpv4Pool"),
                                   "'customerOwnedIpv4Pool' applies only to Outpost zones",
                                   "remove it; customer-owned IP pools exist only on Outposts"))
        if z.carrier_ip is not None and ztype is not ZoneType.WAVELENGTH:
            out.append(doc.problem((*p, "carrierIp"), "'carrierIp' applies only to Wavelength Zones",
                                   "remove it; Carrier IPs exist only in Wavelength Zones"))
        ng = z.node_group
        if ng is not None:
            q = (*p, "nodeGroup")
            if ng.min is not None and ng.min > ng.desired:
                out.append(doc.problem((*q, "min"), f"min ({ng.min}) is larger than desired ({ng.desired})",
                                       "set min <= desired <= max"))
            if ng.max is not None and ng.max < max(ng.desired, ng.min_size):
                out.append(doc.problem((*q, "max"),
                                       f"max ({ng.max}) is smaller than desired/min ({max(ng.desired, ng.min_size)})",
                                       "set min <= desired <= max"))
            if ztype in GP2_ONLY and ng.volume_type not in (None, "gp2"):
                where = "Wavelength Zones" if ztype is ZoneType.WAVELENGTH else "Outposts"
                out.append(doc.problem((*q, "volumeType"),
                                       f"{where} support only gp2 EBS volumes, not {ng.volume_type}",
                                       "remove volumeType (gp2 is the default there) or set volumeType: gp2"))
        if t.vpc.id is not None and (z.subnet is None or z.subnet.id is None):
            out.append(doc.problem(p, "with an existing VPC (vpc.id) every zone needs 'subnet: {id: subnet-...}'",
                                   "give the id of this zone's subnet in that VPC, or use vpc.cidr instead"))
        if z.subnet is not None and z.subnet.cidr is None and z.subnet.id is None:
            out.append(doc.problem((*p, "subnet"), "'subnet' is empty", "give 'cidr' or 'id', or remove 'subnet'"))

    # Outpost parent zones must be AZs of this Region.
    for i, z in enumerate(t.zones):
        if types.get(z.name) is ZoneType.OUTPOST and z.parent_zone is not None:
            ptype = types.get(z.parent_zone) or resolve_zone_type(z.parent_zone, None, t.region)
            pentry = cat.zones.get(z.parent_zone)
            in_region = ((pentry is not None and pentry.region == t.region) or z.parent_zone in types
                         or is_region_az_name(z.parent_zone, t.region))
            if ptype is not ZoneType.AVAILABILITY_ZONE or not in_region:
                near = [n for n in suggest_zone(z.parent_zone)
                        if cat.zones[n].type == "availability-zone"]
                hint = (f"did you mean '{near[0]}'? " if near else "") + \
                    f"use an Availability Zone of {t.region}"
                msg = f"parent zone {z.parent_zone!r} is not an Availability Zone of {t.region}"
                out.append(doc.problem(("spec", "zones", i, "parentZone"), msg, hint))

    # VPC
    vpc = t.vpc
    if vpc.id is None and vpc.cidr is None:
        out.append(doc.problem(("spec", "vpc"), "the VPC needs either 'cidr' (new VPC) or 'id' (existing VPC)",
                               "add cidr: 10.0.0.0/16, or id: vpc-... with a subnet id per zone"))
    if vpc.id is not None and vpc.cidr is not None:
        out.append(doc.problem(("spec", "vpc"), "give either vpc.cidr (new VPC) or vpc.id (existing VPC), not both",
                               "remove one of the two"))
    if vpc.cidr is not None:
        net = ipaddress.IPv4Network(vpc.cidr)
        if not 16 <= net.prefixlen <= 28:
            out.append(doc.problem(("spec", "vpc", "cidr"), f"VPC CIDR /{net.prefixlen} is outside /16../28",
                                   "AWS VPCs take a netmask between /16 and /28"))
        subnets: list[tuple[int, ipaddress.IPv4Network]] = []
        for i, z in enumerate(t.zones):
            if z.subnet is None or z.subnet.cidr is None:
                continue
            sn = ipaddress.IPv4Network(z.subnet.cidr)
            path = ("spec", "zones", i, "subnet", "cidr")
            if not sn.subnet_of(net):
                out.append(doc.problem(path, f"subnet {sn} is outside the VPC {net}",
                                       f"pick a subnet inside {net}"))
            if sn.prefixlen > 28:
                out.append(doc.problem(path, f"subnet /{sn.prefixlen} is smaller than AWS allows (/28)",
                                       "use a /28 or larger subnet; pods take IPs from it too"))
            for j, other in subnets:
                if sn.overlaps(other):
                    out.append(doc.problem(path, f"subnet {sn} overlaps {other} of {t.zones[j].name}",
                                           "give each zone its own, non-overlapping subnet"))
            subnets.append((i, sn))

    out += _cluster_option_problems(spec, types)

    azs = [z for z in t.zones if types.get(z.name) is ZoneType.AVAILABILITY_ZONE]
    if len(azs) < 2 and len(types) == len(t.zones):
        out.append(doc.problem(("spec", "zones"),
                               f"EKS needs subnets in at least two Availability Zones of the Region; found {len(azs)}",
                               f"add a second Region AZ, e.g. {t.region}b"))
    names = {z.name for z in t.zones}
    for zone in t.latency_ms:
        if zone not in names:
            out.append(doc.problem(("spec", "latencyMs", zone), f"latencyMs names {zone!r}, which is not in spec.zones",
                                   "use a zone name from spec.zones"))
    return out, types


def _cluster_option_problems(spec: object, types: dict[str, ZoneType]) -> list[Problem]:
    """API endpoint CIDRs, KMS key, existing-VPC reuse, local gateways, node totals."""
    from .loader import Spec

    assert isinstance(spec, Spec)
    t = spec.topology.spec
    doc = spec.topology_doc
    out: list[Problem] = []
    for i, cidr in enumerate(t.public_access_cidrs or ()):
        net = ipaddress.IPv4Network(cidr)
        if any(net.overlaps(n) for n in NON_PUBLIC):
            out.append(doc.problem(("spec", "publicAccessCidrs", i),
                                   f"{cidr} is a private range; the public endpoint sees public source addresses",
                                   "give the public address range of your operators (e.g. 203.0.113.0/24); "
                                   "private networks reach the cluster through the private endpoint"))
    if t.public_access_cidrs is not None and t.endpoint_access is EndpointAccess.PRIVATE:
        pass  # legitimate: limits the public endpoint eksctl needs while it creates the cluster
    key = t.secrets_encryption.key_arn
    if key is not None:
        m = KMS_KEY_ARN.match(key)
        if m and m.group(1) != t.region:
            out.append(doc.problem(("spec", "secretsEncryption", "keyArn"),
                                   f"the KMS key is in Region {m.group(1)}, the cluster in {t.region}",
                                   "EKS needs a key in the cluster's own Region"))
        if not t.secrets_encryption.enabled:
            out.append(doc.problem(("spec", "secretsEncryption"), "keyArn given, but enabled is false",
                                   "remove keyArn, or set enabled: true"))
    has_wlz = any(v is ZoneType.WAVELENGTH for v in types.values())
    if t.vpc.carrier_gateway_id is not None:
        if t.vpc.id is None:
            out.append(doc.problem(("spec", "vpc", "carrierGatewayId"),
                                   "carrierGatewayId reuses the carrier gateway of an existing VPC, but vpc.id is "
                                   "not set", "remove carrierGatewayId (a new VPC gets its own), or set vpc.id"))
        elif not has_wlz:
            out.append(doc.problem(("spec", "vpc", "carrierGatewayId"),
                                   "carrierGatewayId given, but the topology has no Wavelength Zone",
                                   "remove carrierGatewayId"))
    for svc in t.vpc.endpoints:
        path = ("spec", "vpc", "endpoints", svc)
        if t.vpc.id is None:
            out.append(doc.problem(path, "vpc.endpoints names endpoints of an existing VPC, but vpc.id is not set",
                                   "remove vpc.endpoints (a new VPC gets its own), or set vpc.id"))
            break
        if svc not in ENDPOINT_SERVICES:
            out.append(doc.problem(path, f"{svc!r} is not a VPC endpoint service a plan uses",
                                   "use one of " + ", ".join(ENDPOINT_SERVICES)))
    total = 0
    for i, z in enumerate(t.zones):
        p = ("spec", "zones", i)
        ztype = types.get(z.name)
        for field, value in (("localGatewayId", z.local_gateway_id),
                             ("localGatewayRouteTableId", z.local_gateway_route_table_id)):
            if value is not None and ztype is not ZoneType.OUTPOST:
                out.append(doc.problem((*p, field), f"'{field}' applies only to Outpost zones",
                                       "remove it, or set type: outpost"))
        if (ztype is ZoneType.OUTPOST and t.outpost_intra_vpc and t.vpc.id is None
                and (z.local_gateway_id is None or z.local_gateway_route_table_id is None)):
            missing = [f for f, v in (("localGatewayId", z.local_gateway_id),
                                      ("localGatewayRouteTableId", z.local_gateway_route_table_id)) if v is None]
            out.append(doc.problem(p, "outpostIntraVpc routes between Outpost subnets over each Outpost's local "
                                      "gateway; this Outpost needs " + " and ".join(missing),
                                   "aws ec2 describe-local-gateways / describe-local-gateway-route-tables "
                                   "--filters Name=outpost-arn,Values=<arn>; or remove outpostIntraVpc "
                                   "(the Outposts then cannot reach each other)"))
        if z.node_group is not None:
            total += z.node_group.max_size
    if total > MAX_NODES_PER_CLUSTER:
        out.append(doc.problem(("spec", "zones"),
                               f"the node groups can grow to {total} nodes; Kubernetes supports at most "
                               f"{MAX_NODES_PER_CLUSTER} nodes per cluster",
                               "lower nodeGroup.max (or desired) so that the sum stays within the limit"))
    return out


#: ranges no internet source address comes from (RFC 1918, shared CGNAT space, loopback,
#: link-local): on the public endpoint they admit nobody
NON_PUBLIC = tuple(ipaddress.IPv4Network(n) for n in (
    "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16"))

ECR_IMAGE = re.compile(r"^\d{12}\.dkr\.ecr(?:-fips)?\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/")


def _application_problems(
    app: Application, doc: Document, types: dict[str, ZoneType], region: str, closed_wlz: Sequence[str] = ()
) -> list[Problem]:
    out: list[Problem] = []
    svc = app.spec.services
    names = Counter(s.name for s in svc)
    if app.spec.dns == "latency":
        out.append(doc.problem(("spec", "dns"),
                               "Route 53 allows one latency record per AWS Region for a name, and every ALB of the "
                               "plan is in the parent Region: the latency record set cannot be created",
                               "use dns: geoproximity (default: closest healthy ALB), weighted or failover"))
    tls = app.spec.tls
    if tls is not None and tls.certificate_arn is None and tls.host is None:
        out.append(doc.problem(("spec", "tls"), "'tls' needs 'certificateArn' or 'host' (ACM discovery by host)",
                               "add certificateArn: arn:aws:acm:<region>:<account>:certificate/<id>, or host: "
                               "shop.example.com"))
    if tls is not None and tls.certificate_arn is not None:
        arn_region = tls.certificate_arn.split(":")[3]
        if arn_region != region:
            out.append(doc.problem(("spec", "tls", "certificateArn"),
                                   f"the certificate is in Region {arn_region}; an ALB uses ACM certificates of its "
                                   f"own Region ({region})",
                                   f"request or import the certificate in {region}"))
    has_edge = any(t in EDGE_TYPES for t in types.values())
    for i, s in enumerate(svc):
        p = ("spec", "services", i)
        if names[s.name] > 1 and next(j for j, x in enumerate(svc) if x.name == s.name) != i:
            out.append(doc.problem((*p, "name"), f"service {s.name!r} is defined twice",
                                   "give every service a unique name"))
        for k, call in enumerate(s.calls):
            if call not in names:
                near = [n for n in names if n.startswith(call[:3])][:1]
                hint = (f"did you mean '{near[0]}'? " if near else "") + \
                    "calls name services of this Application: " + ", ".join(sorted(names))
                out.append(doc.problem((*p, "calls", k), f"calls unknown service {call!r}", hint))
        by_name = {x.name: x for x in svc}
        for k, call in enumerate(s.calls):
            callee = by_name.get(call)
            if s.has_region_copy and callee is not None and not callee.has_region_copy:
                out.append(doc.problem(
                    (*p, "calls", k),
                    f"the Region copy of {s.name!r} calls {call!r}, which runs only in edge zones: a Region "
                    "caller has no copy of its own to call, and no edge zone is the right one",
                    f"give {call!r} placement edge-and-region, or give {s.name!r} placement edge"))
        if s.failover is Failover.REGION and not s.has_region_copy:
            out.append(doc.problem((*p, "failover"),
                                   "failover: region needs a Region copy, but placement is 'edge'",
                                   "set placement: edge-and-region, or failover: none"))
        if s.failover is not None and not s.has_edge_copies:
            out.append(doc.problem((*p, "failover"),
                                   "failover applies to edge copies; this service runs only in the Region",
                                   "remove 'failover'"))
        if s.has_edge_copies and not has_edge:
            out.append(doc.problem((*p, "placement"),
                                   f"placement '{s.placement.value}' needs edge zones, and the topology has none",
                                   "set placement: region, or add a Local Zone, Wavelength Zone or Outpost"))
        if s.placement is Placement.REGION and s.expose is not None:
            pass  # a Region-only entry point is legitimate: one Region ALB
        if s.expose is not None and app.spec.ingress.value == "none":
            out.append(doc.problem((*p, "expose"), "'expose' needs an ingress, and spec.ingress is 'none'",
                                   "set spec.ingress: alb, or remove 'expose'"))
        for var, ref in s.secret_refs:
            if ref.name == "consul-ent-license":
                out.append(doc.problem((*p, "env", var), "Secret 'consul-ent-license' holds the Consul licence",
                                       "name an application Secret of your own"))
        if s.storage is not None and s.placement is not Placement.REGION:
            out.append(doc.problem((*p, "storage"),
                                   "'storage' applies to services that run only in the Region: a copy per edge "
                                   "zone would be one independent database per zone",
                                   "set placement: region, or remove 'storage'"))
        ecr = ECR_IMAGE.match(s.image)
        if closed_wlz and s.has_edge_copies and not (ecr and ecr.group(1) == region):
            zones = ", ".join(closed_wlz)
            out.append(doc.problem(
                (*p, "image"),
                f"{s.name!r} runs in {zones}, whose nodes have no Carrier IP (carrierIp: false) and so reach "
                f"only this Region's ECR; {s.image!r} is not there",
                f"use <account>.dkr.ecr.{region}.amazonaws.com/ecr-public/<repository>:<tag> (the plan's "
                "pull-through cache for public.ecr.aws) or another image in that ECR, or set carrierIp: true"))
        if s.region_replicas is not None and not s.has_region_copy:
            out.append(doc.problem((*p, "regionReplicas"), "regionReplicas set, but the service has no Region copy",
                                   "remove regionReplicas, or set placement to edge-and-region/region"))
    return out


def _geoproximity_problems(
    app: Application, doc: Document, zones: Sequence[ZoneSpec], types: dict[str, ZoneType]
) -> list[Problem]:
    """Geoproximity keys an internet-facing Outpost ALB by the Outpost's coordinates: the spec
    must give them (an Outpost's site is not in any catalog), one distinct place per Outpost."""
    exposed_at_edge = any(s.expose is not None and s.has_edge_copies for s in app.spec.services)
    if app.spec.dns != "geoproximity" or app.spec.ingress.value != "alb" or not exposed_at_edge:
        return []
    out: list[Problem] = []
    seen: dict[tuple[float, float], str] = {}
    for z in zones:
        if types.get(z.name) is not ZoneType.OUTPOST or z.customer_owned_ipv4_pool is None:
            continue
        if z.location is None:
            out.append(doc.problem(("spec", "dns"),
                                   f"geoproximity records place Outpost {z.name!r}'s internet-facing ALB by its "
                                   "coordinates, and the topology does not give them",
                                   f"add location: {{lat: ..., lon: ...}} to zone {z.name}, or use dns: weighted"))
            continue
        key = (round(z.location.lat, 2), round(z.location.lon, 2))
        if key in seen:
            out.append(doc.problem(("spec", "dns"),
                                   f"Outposts {seen[key]!r} and {z.name!r} have the same location: geoproximity "
                                   "cannot tell their ALBs apart",
                                   "give each Outpost its own location, or use dns: weighted"))
        seen.setdefault(key, z.name)
    return out


def validate_semantics(spec: object) -> None:
    from .loader import Spec

    assert isinstance(spec, Spec)
    problems, types = _topology_problems(spec)
    closed = [z.name for z in spec.topology.spec.zones
              if types.get(z.name) is ZoneType.WAVELENGTH and z.carrier_ip is False and z.node_group is not None]
    region = spec.topology.spec.region
    edge_slugs = [(z.name, zone_slug(z.name, region, kind)) for z in spec.topology.spec.zones
                  if (kind := types.get(z.name)) is not None and kind in EDGE_TYPES]
    app_names: dict[str, Document] = {}
    for app, doc in spec.applications:
        if app.metadata.name in app_names:
            first = app_names[app.metadata.name]
            msg = f"Application {app.metadata.name!r} is defined twice (first in {first.file}:{first.line})"
            problems.append(doc.problem(("metadata", "name"), msg, "give each Application a unique name"))
        app_names.setdefault(app.metadata.name, doc)
        problems.extend(_application_problems(app, doc, types, spec.topology.spec.region, closed))
        problems.extend(_geoproximity_problems(app, doc, spec.topology.spec.zones, types))
        problems.extend(shared_namespace_clashes(app, edge_slugs, doc))
    if problems:
        raise InputError(problems)
