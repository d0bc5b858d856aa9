"""North-south: one ALB per site (edge zone or Region) and Route 53 records over them.

Rules of the AWS Load Balancer Controller that shape this (its subnet resolver): all
subnets of one load balancer must be in ONE locale (availability-zone, local-zone,
wavelength-zone or outpost -- mixing fails with "subnets in multiple locales"); an ALB in
the availability-zone locale needs at least two subnets in different AZs, while an ALB in
a Local Zone, Wavelength Zone or on an Outpost needs only one. ALBs cannot do cross-zone
load balancing across edge zones, and one ALB cannot span two Outposts (seed 004). Hence
exactly one Ingress (one ALB) per edge zone on one subnet of that zone (a Local Zone's
public subnet, see :func:`ingress_subnets`), and one over the Region public subnets; Route
53 alias records with ``EvaluateTargetHealth`` move users of a zone whose copy is down to
the next healthy ALB.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ...spec import Application, ServiceSpec, ZoneType
from ...topology import Topology, Zone
from ...yamlout import dump
from ..cluster.cfnsplit import TAIL, Part, Split, split_template
from .names import REGION_SITE, public_subnet_name, subnet_name
from .workloads import PART_OF_LABEL

__all__ = [
    "HOSTED_ZONE_VAR",
    "DnsSite",
    "IngressSite",
    "carrier_record_name",
    "dns_parameter_sites",
    "dns_parts",
    "dns_records",
    "dns_sites",
    "dns_stack",
    "dns_template",
    "ingress",
    "ingress_scheme",
    "ingress_subnets",
]

#: the shell variable the RUNBOOK's DNS step reads the Route 53 hosted zone id from (the
#: user sets it; ``edgewise apply --hosted-zone-id`` or the same environment variable)
HOSTED_ZONE_VAR = "HOSTED_ZONE_ID"


@dataclass(frozen=True)
class IngressSite:
    site: str  # zone name or "region"
    zone: Zone | None
    namespace: str
    load_balancer: str  # ALB name
    name: str  # the Ingress object's name


def ingress_subnets(topology: Topology, zone: Zone | None) -> tuple[str, ...]:
    """The subnets of a site's ALB: the Region public subnets; for an edge zone one subnet.

    A Local Zone's subnet routes 0.0.0.0/0 to a Region NAT gateway, so its internet-facing
    ALB goes into the zone's public subnet (``<topology>-public-<zone>``) when the cluster
    plan creates one (new VPC); with an existing VPC, into the zone subnet the spec names
    (the plan notes that it must be public). Wavelength ALBs use the zone subnet (carrier
    route table), Outpost ALBs the Outpost subnet.
    """
    if zone is not None:
        if zone.kind is ZoneType.LOCAL and zone.public_cidr is not None:
            return (public_subnet_name(topology, zone.name),)
        return (subnet_name(topology, zone),)
    azs = [az for az, _ in topology.public_subnets] or [z.name for z in topology.region_zones]
    return tuple(public_subnet_name(topology, az) for az in azs)


#: AWS Load Balancer Controller annotations (https://kubernetes-sigs.github.io/
#: aws-load-balancer-controller/latest/guide/ingress/annotations/)
COIP_ANNOTATION = "alb.ingress.kubernetes.io/customer-owned-ipv4-pool"
SCHEME_ANNOTATION = "alb.ingress.kubernetes.io/scheme"


def ingress_scheme(zone: Zone | None) -> str:
    """``internet-facing``, except on an Outpost without a customer-owned IP pool.

    An internet-facing ALB on an Outpost takes its addresses from the Outpost's
    customer-owned IP pool (``customer-owned-ipv4-pool`` annotation, AWS Load Balancer
    Controller; "Application Load Balancers on AWS Outposts", ELB user guide): without
    one it has no address the local network or the internet can reach, so it is internal.
    """
    if zone is not None and zone.kind is ZoneType.OUTPOST and zone.coip_pool is None:
        return "internal"
    return "internet-facing"


def ingress(
    topology: Topology,
    app: Application,
    site: IngressSite,
    backends: Sequence[tuple[ServiceSpec, str]],
) -> dict[str, Any]:
    """One Ingress (= one ALB) for ``site``; ``backends`` are (service, Service name) pairs."""
    subnets = ingress_subnets(topology, site.zone)
    scheme = ingress_scheme(site.zone)
    annotations = {
        "alb.ingress.kubernetes.io/load-balancer-name": site.load_balancer,
        SCHEME_ANNOTATION: scheme,
        "alb.ingress.kubernetes.io/subnets": ", ".join(subnets),
        "alb.ingress.kubernetes.io/target-type": "ip",
    }
    if site.zone is not None and site.zone.coip_pool is not None:
        annotations[COIP_ANNOTATION] = site.zone.coip_pool
    first = backends[0][0]
    health = first.health_path or (first.expose.path if first.expose else "/")
    annotations["alb.ingress.kubernetes.io/healthcheck-path"] = health
    tls = app.spec.tls
    if tls is not None and scheme == "internet-facing":
        # HTTPS listener with the certificate (or ACM discovery by the rules' host), and the
        # HTTP listener only redirects (ssl-redirect; .../guide/ingress/cert_discovery/)
        annotations["alb.ingress.kubernetes.io/listen-ports"] = '[{"HTTP": 80}, {"HTTPS": 443}]'
        annotations["alb.ingress.kubernetes.io/ssl-redirect"] = "443"
        if tls.certificate_arn:
            annotations["alb.ingress.kubernetes.io/certificate-arn"] = tls.certificate_arn
    paths = []
    # longest path first: the controller turns the paths into listener rules in order, and
    # "/" first would also take "/api"
    for svc, name in sorted(backends, key=lambda b: -len(b[0].expose.path if b[0].expose else "")):
        assert svc.expose is not None
        paths.append(
            {
                "path": svc.expose.path,
                "pathType": "Prefix",
                "backend": {
                    "service": {"name": name, "port": {"number": svc.expose.port or svc.port}}
                },
            }
        )
    rule: dict[str, Any] = {"http": {"paths": paths}}
    spec: dict[str, Any] = {"ingressClassName": "alb"}
    if tls is not None and tls.host and scheme == "internet-facing":
        rule = {"host": tls.host, **rule}
        spec["tls"] = [{"hosts": [tls.host]}]
    spec["rules"] = [rule]
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {
            "name": site.name,
            "namespace": site.namespace,
            "labels": {PART_OF_LABEL: app.metadata.name},
            "annotations": dict(sorted(annotations.items())),
        },
        "spec": spec,
    }


def _logical(site: str) -> str:
    parts = re.split(r"[^A-Za-z0-9]+", site)
    return "".join(p[:1].upper() + p[1:] for p in parts if p)


@dataclass(frozen=True)
class DnsSite:
    """One ALB of ``dns.cfn.yaml`` and the names of the template parameters it fills."""

    site: str
    namespace: str
    ingress: str  # the Ingress object's name
    load_balancer: str  # ALB name
    dns_name_param: str  # the ALB's DNS name
    hosted_zone_param: str  # the ALB's canonical hosted zone id
    #: a Wavelength ALB's carrier-facing record name (empty for the others)
    carrier_record_param: str = ""
    carrier_slug: str = ""


def _site_params(s: IngressSite) -> DnsSite:
    key = _logical(s.site)
    wl = is_wavelength(s.zone)
    return DnsSite(
        s.site, s.namespace, s.name, s.load_balancer, f"AlbDnsName{key}", f"AlbHostedZoneId{key}",
        f"CarrierRecordName{key}" if wl else "", s.zone.slug if wl and s.zone is not None else "",
    )


def dns_parameter_sites(sites: Sequence[IngressSite]) -> list[DnsSite]:
    """The ALBs ``dns.cfn.yaml`` takes as parameters, in its order: the internet-facing
    ones first, then the Wavelength ones (carrier-facing); internal ALBs have none."""
    public = [s for s in sites if ingress_scheme(s.zone) == "internet-facing" and not is_wavelength(s.zone)]
    carrier = [s for s in sites if is_wavelength(s.zone)]
    return [_site_params(s) for s in [*public, *carrier]]


def carrier_record_name(slug: str, record_name: str) -> str:
    """A Wavelength ALB's carrier-facing name under the application's record name."""
    return f"{slug}.carrier.{record_name}"


def _alias(s: IngressSite, health: bool = True) -> dict[str, Any]:
    p = _site_params(s)
    return {
        "DNSName": {"Ref": p.dns_name_param},
        "HostedZoneId": {"Ref": p.hosted_zone_param},
        "EvaluateTargetHealth": health,
    }


def _geo_location(topology: Topology, zone: Zone | None) -> dict[str, Any]:
    if zone is None:
        return {"AWSRegion": topology.region}
    if zone.kind is ZoneType.LOCAL and zone.group:
        return {"LocalZoneGroup": zone.group}
    return {"Coordinates": {"Latitude": f"{zone.lat:.2f}", "Longitude": f"{zone.lon:.2f}"}}


def dns_template(topology: Topology, app: Application, sites: Sequence[IngressSite]) -> str:
    """``dns.cfn.yaml`` as one template, whatever its size (:func:`dns_parts` splits it)."""
    return dump(dns_records(topology, app, sites)[0])


def dns_records(topology: Topology, app: Application,
                sites: Sequence[IngressSite]) -> tuple[dict[str, Any], dict[str, str]]:
    """CloudFormation for the Route 53 alias records over the per-site ALBs, and the edge
    zone (or :data:`~..cluster.cfnsplit.TAIL`) each record and output belongs to when the
    template is split (:func:`dns_parts`); the Region's belong to none.

    ALB DNS names and canonical hosted zone IDs are known only after the AWS Load Balancer
    Controller created the ALBs, so they are parameters (``kubectl get ingress -A`` shows
    the DNS names).

    * Internet users (Region, Local Zone and Outpost ALBs with a customer-owned pool):
      ``geoproximity`` -- each ALB keyed by where it is: the Region ALB by ``AWSRegion``, a
      Local Zone ALB by its ``LocalZoneGroup``, an Outpost ALB by its coordinates (Route 53
      developer guide, "Geoproximity routing"); ``weighted`` -- one weighted alias per ALB;
      or ``failover`` -- PRIMARY is a weighted set of the edge ALBs under ``edge.<name>``,
      SECONDARY the Region ALB. Every alias
      evaluates target health (an ALB with no healthy target drops out; Route 53
      developer guide, "Evaluate target health"). Latency records are not used: a name
      can have one latency record per AWS Region, and every ALB is in the parent Region.
    * Wavelength ALBs have carrier IPs that only that carrier's subscribers reach: each
      gets its own carrier-facing name, never the internet name. Clients find it through
      the carrier's edge discovery API (seed 001).
    * Internal ALBs (an Outpost with no customer-owned IP pool) get no public record.
    """
    name = app.metadata.name
    params: dict[str, Any] = {
        "HostedZoneId": {
            "Type": "AWS::Route53::HostedZone::Id",
            "Description": "Route 53 hosted zone that holds the records",
        },
        "RecordName": {
            "Type": "String",
            "Description": "DNS name internet users resolve (in the hosted zone)",
        },
    }
    if app.spec.domain:
        params["RecordName"]["Default"] = app.spec.domain
    resources: dict[str, Any] = {}
    outputs: dict[str, Any] = {"RecordName": {"Value": {"Ref": "RecordName"}}}
    owner: dict[str, str] = {}
    public = [s for s in sites if ingress_scheme(s.zone) == "internet-facing" and not is_wavelength(s.zone)]
    carrier = [s for s in sites if is_wavelength(s.zone)]
    for p in dns_parameter_sites(sites):
        params[p.dns_name_param] = {
            "Type": "String",
            "Description": f"DNS name of ALB {p.load_balancer} (Ingress {p.ingress} in namespace "
            f"{p.namespace})",
        }
        params[p.hosted_zone_param] = {
            "Type": "String",
            "Description": f"Canonical hosted zone ID of ALB {p.load_balancer}",
        }
    region = [s for s in public if s.zone is None]
    edge = [s for s in public if s.zone is not None]
    failover = app.spec.dns == "failover" and region and edge

    def record(key: str, props: dict[str, Any], zone: Zone | None = None) -> None:
        resources[key] = {"Type": "AWS::Route53::RecordSet", "Properties": props}
        if zone is not None:
            owner[key] = zone.name

    if failover:
        edge_name = {"Fn::Sub": "edge.${RecordName}"}
        for s in edge:
            key = _logical(s.site)
            record(f"EdgeRecord{key}", {
                "HostedZoneId": {"Ref": "HostedZoneId"},
                "Name": edge_name,
                "Type": "A",
                "SetIdentifier": s.site,
                "Weight": 100,
                "AliasTarget": _alias(s),
            }, s.zone)
        # PRIMARY aliases the weighted name of the edge records: Route 53 creates an alias
        # to a record of the same hosted zone only once that record exists, so a split puts
        # it in the stack deployed after every edge group (the tail)
        owner["RecordPrimary"] = TAIL
        record("RecordPrimary", {
            "HostedZoneId": {"Ref": "HostedZoneId"},
            "Name": {"Ref": "RecordName"},
            "Type": "A",
            "SetIdentifier": "edge",
            "Failover": "PRIMARY",
            "AliasTarget": {
                "DNSName": edge_name,
                "HostedZoneId": {"Ref": "HostedZoneId"},
                "EvaluateTargetHealth": True,
            },
        })
        resources["RecordPrimary"]["DependsOn"] = [f"EdgeRecord{_logical(s.site)}" for s in edge]
        record("RecordSecondary", {
            "HostedZoneId": {"Ref": "HostedZoneId"},
            "Name": {"Ref": "RecordName"},
            "Type": "A",
            "SetIdentifier": "region",
            "Failover": "SECONDARY",
            "AliasTarget": _alias(region[0]),
        })
    else:
        for s in public:
            key = _logical(s.site)
            props: dict[str, Any] = {
                "HostedZoneId": {"Ref": "HostedZoneId"},
                "Name": {"Ref": "RecordName"},
                "Type": "A",
                "SetIdentifier": s.site,
            }
            if app.spec.dns == "geoproximity":
                props["GeoProximityLocation"] = _geo_location(topology, s.zone)
            else:
                props["Weight"] = 100
            props["AliasTarget"] = _alias(s)
            record(f"Record{key}", props, s.zone)
    for s in carrier:
        key = _logical(s.site)
        cp = _site_params(s).carrier_record_param
        assert s.zone is not None
        params[cp] = {
            "Type": "String",
            "Description": f"carrier-facing DNS name of the {s.zone.name} ALB (reachable only from "
            f"the carrier's network{' of ' + s.zone.carrier if s.zone.carrier else ''})",
        }
        if app.spec.domain:
            params[cp]["Default"] = carrier_record_name(s.zone.slug, app.spec.domain)
        record(f"CarrierRecord{key}", {
            "HostedZoneId": {"Ref": "HostedZoneId"},
            "Name": {"Ref": cp},
            "Type": "A",
            "AliasTarget": _alias(s),
        }, s.zone)
        outputs[cp] = {"Value": {"Ref": cp}}
        owner[cp] = s.zone.name
    policy = "failover" if failover else ("geoproximity" if app.spec.dns == "geoproximity" else "weighted")
    template: dict[str, Any] = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": f"Route 53 {policy} records for application {name} over its per-zone "
        "ALBs" + ("; one carrier-facing name per Wavelength Zone" if carrier else ""),
        "Parameters": params,
        "Resources": resources,
        "Outputs": outputs,
    }
    return template, owner


def dns_stack(topology: Topology, app: str) -> str:
    """The DNS stack of ``app`` (the base stack when its template is split)."""
    return f"{topology.name}-{app}-dns"


def dns_parts(topology: Topology, app: Application, sites: Sequence[IngressSite]) -> list[Part]:
    """``dns.cfn.yaml`` as the stacks CloudFormation takes: the one template while it fits
    within :data:`~..cluster.cfnsplit.MARGIN` of every quota (every plan up to about 79
    internet-facing ALBs: 2 parameters each, 3 for a Wavelength ALB, against 200), else
    split by :func:`~..cluster.cfnsplit.split_template`:

    * the base stack (``dns.cfn.yaml``, the single template's stack name) keeps the
      Region ALB's record (the failover SECONDARY) and the ``RecordName`` output;
    * each edge zone's record, carrier-facing record and their ALB parameters go to the
      group stack of the zone's hash bucket (``dns-edge-NN.cfn.yaml``), the same bucket as
      the zone's subnets in the network split (:func:`~..cluster.cfnsplit.zone_bucket`).
      The bucket is a hash of the zone's name, never its position: adding or removing a
      zone moves no other zone's records to another stack. Moving a record between
      stacks would be a delete in one and a create in the other, a moment in which the
      name does not answer with that ALB; and the other way round (create first) Route 53
      refuses, since a record of that name, type and set identifier exists;
    * with failover routing, the PRIMARY record goes to a last stack
      (``dns-failover.cfn.yaml``): it aliases the weighted ``edge.<name>`` records, which
      must exist first.

    Route 53 allows this split: each ``AWS::Route53::RecordSet`` is its own record set,
    created by its own change, even in one stack; records of one name and type with a
    routing policy (weighted, geoproximity, failover) are told apart by ``SetIdentifier``,
    unique among them (https://docs.aws.amazon.com/Route53/latest/APIReference/API_ResourceRecordSet.html),
    and Route 53 answers from all of them whichever stack created them. Every record is
    in exactly one stack. The stacks refer to nothing in one another (no exports): each
    takes the hosted zone and name as parameters, and only its own ALBs'.

    Growing past the single template moves the edge zones' records once: the base
    stack's update deletes them and the group stacks create them again; meanwhile Route
    53 answers from the records left (the Region's). The base and group stacks import
    nothing from one another, but the group stacks deploy in the wave after the base
    stack (:func:`~..cluster.cfnsplit.stack_waves`, ``split_from_first``), so the deletes
    come first, in the RUNBOOK as in ``edgewise apply``.
    """
    template, owner = dns_records(topology, app, sites)
    owners = set(owner.values())
    zones = [s.zone.name for s in sites if s.zone is not None and s.zone.name in owners]
    split = Split(owner=owner, zones=zones, prefix_param="", base_stack=dns_stack(topology, app.metadata.name),
                  tail_suffix="-failover")
    return split_template(template, split)


def dns_sites(sites: Sequence[IngressSite]) -> list[IngressSite]:
    """Sites that get a Route 53 record (every ALB but the internal ones)."""
    return [s for s in sites if ingress_scheme(s.zone) == "internet-facing"]


def site_kind(zone: Zone | None) -> str:
    return REGION_SITE if zone is None else zone.kind.value


def is_wavelength(zone: Zone | None) -> bool:
    return zone is not None and zone.kind is ZoneType.WAVELENGTH
