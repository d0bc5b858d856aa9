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
from .names import REGION_SITE, public_subnet_name, subnet_name
from .workloads import PART_OF_LABEL

__all__ = ["IngressSite", "dns_template", "ingress", "ingress_subnets"]


@dataclass(frozen=True)
class IngressSite:
    site: str  # zone name or "region"
    zone: Zone | None
    namespace: str
    load_balancer: str  # ALB name


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


def ingress(
    topology: Topology,
    app: Application,
    site: IngressSite,
    backends: Sequence[tuple[ServiceSpec, str]],
) -> dict[str, Any]:
    """One Ingress (= one ALB) for ``site``; ``backends`` are (service, Service name) pairs."""
    subnets = ingress_subnets(topology, site.zone)
    annotations = {
        "alb.ingress.kubernetes.io/load-balancer-name": site.load_balancer,
        "alb.ingress.kubernetes.io/scheme": "internet-facing",
        "alb.ingress.kubernetes.io/subnets": ", ".join(subnets),
        "alb.ingress.kubernetes.io/target-type": "ip",
    }
    first = backends[0][0]
    health = first.health_path or (first.expose.path if first.expose else "/")
    annotations["alb.ingress.kubernetes.io/healthcheck-path"] = health
    paths = []
    for svc, name in backends:
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
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {
            "name": app.metadata.name,
            "namespace": site.namespace,
            "labels": {PART_OF_LABEL: app.metadata.name},
            "annotations": dict(sorted(annotations.items())),
        },
        "spec": {"ingressClassName": "alb", "rules": [{"http": {"paths": paths}}]},
    }


def _logical(site: str) -> str:
    parts = re.split(r"[^A-Za-z0-9]+", site)
    return "".join(p[:1].upper() + p[1:] for p in parts if p)


def dns_template(topology: Topology, app: Application, sites: Sequence[IngressSite]) -> str:
    """CloudFormation for the Route 53 alias records over the per-site ALBs.

    ALB DNS names and canonical hosted zone IDs are known only after the AWS Load Balancer
    Controller created the ALBs, so they are parameters (``kubectl get ingress -A`` shows
    the DNS names). Latency records key on the parent Region; weighted records spread users
    evenly; both evaluate ALB health so a zone whose exposed copy is down drops out.
    """
    name = app.metadata.name
    params: dict[str, Any] = {
        "HostedZoneId": {
            "Type": "AWS::Route53::HostedZone::Id",
            "Description": "Route 53 hosted zone that holds the record",
        },
        "RecordName": {
            "Type": "String",
            "Description": "DNS name users resolve (in the hosted zone)",
        },
    }
    if app.spec.domain:
        params["RecordName"]["Default"] = app.spec.domain
    resources: dict[str, Any] = {}
    for s in sites:
        key = _logical(s.site)
        params[f"AlbDnsName{key}"] = {
            "Type": "String",
            "Description": f"DNS name of ALB {s.load_balancer} (Ingress {name} in namespace "
            f"{s.namespace})",
        }
        params[f"AlbHostedZoneId{key}"] = {
            "Type": "String",
            "Description": f"Canonical hosted zone ID of ALB {s.load_balancer}",
        }
        props: dict[str, Any] = {
            "HostedZoneId": {"Ref": "HostedZoneId"},
            "Name": {"Ref": "RecordName"},
            "Type": "A",
            "SetIdentifier": s.site,
            "AliasTarget": {
                "DNSName": {"Ref": f"AlbDnsName{key}"},
                "HostedZoneId": {"Ref": f"AlbHostedZoneId{key}"},
                "EvaluateTargetHealth": True,
            },
        }
        if app.spec.dns == "weighted":
            props["Weight"] = 100
        else:
            props["Region"] = topology.region
        resources[f"Record{key}"] = {"Type": "AWS::Route53::RecordSet", "Properties": props}
    template: dict[str, Any] = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": f"Route 53 {app.spec.dns} records for application {name} over its "
        "per-zone ALBs",
        "Parameters": params,
        "Resources": resources,
        "Outputs": {"RecordName": {"Value": {"Ref": "RecordName"}}},
    }
    return dump(template)


def site_kind(zone: Zone | None) -> str:
    return REGION_SITE if zone is None else zone.kind.value


def is_wavelength(zone: Zone | None) -> bool:
    return zone is not None and zone.kind is ZoneType.WAVELENGTH
