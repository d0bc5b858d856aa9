"""Names derived from the spec that the spec itself must keep apart.

Kubernetes limits most names to DNS-1123 labels of at most 63 characters; long names are
cut and suffixed with a short hash of the full name, so they stay unique and stable.

With routing ``istio`` every copy of an application's services lives in one namespace,
so a zone's copy of ``api`` is named ``api-<zone slug>``, and a service of the spec may
already carry that name. This module is the one definition of those names: the plan
names its objects with it, and spec validation refuses a spec whose names would meet
(:func:`shared_namespace_clashes`), so ``validate`` and ``plan`` refuse the same specs.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from ..errors import Problem, format_path
from .models import Application, Failover, Routing, ServiceSpec, ZoneType
from .yamlsource import Document

__all__ = [
    "SharedName",
    "dns_label",
    "fails_over_from_edge",
    "shared_namespace_clashes",
    "shared_namespace_names",
    "trim",
    "zone_copy_name",
    "zone_local_name",
    "zone_slug",
]

_NOT_DNS = re.compile(r"[^a-z0-9-]+")


def trim(name: str, limit: int) -> str:
    """Cut ``name`` to ``limit`` characters, keeping it unique with a hash suffix."""
    if len(name) <= limit:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:6]
    return name[: limit - 7].rstrip("-") + "-" + digest


def dns_label(name: str, limit: int = 63) -> str:
    """A DNS-1123 label (lower-case, digits, '-'; at most ``limit`` characters)."""
    cleaned = _NOT_DNS.sub("-", name.lower()).strip("-") or "x"
    return trim(cleaned, limit)


def zone_slug(name: str, region: str, kind: ZoneType) -> str:
    """Short, stable, DNS-1123 name part of a zone: its name without the Region prefix
    (``us-west-2-lax-1a`` -> ``lax-1a``; a Region AZ ``us-west-2a`` -> ``az-a``)."""
    prefix = region + "-"
    s = name[len(prefix):] if name.startswith(prefix) else name
    if kind is ZoneType.AVAILABILITY_ZONE and name.startswith(region):
        s = "az-" + name[len(region):].lstrip("-")
    if len(s) > 40:
        digest = hashlib.sha256(name.encode()).hexdigest()[:6]
        s = s[:33].rstrip("-") + "-" + digest
    return s


def zone_copy_name(service: str, slug: str | None) -> str:
    """``<svc>-<zone slug>`` for an edge zone's copy, ``<svc>`` (``slug`` None) in the Region."""
    return service if slug is None else dns_label(f"{service}-{slug}")


def zone_local_name(copy: str) -> str:
    """``<copy>-local``: the Service over only the zone's own pods of an exposed copy whose
    main Service also holds the Region's (the zone's ALB must not target the Region)."""
    return dns_label(f"{copy}-local")


def fails_over_from_edge(svc: ServiceSpec, services: Sequence[ServiceSpec]) -> bool:
    """Whether edge copies call ``svc`` with failover to its Region copy: it has edge and
    Region copies, fails over to the Region, and some service with edge copies calls it.

    Failover configuration exists only where someone calls the service: an entry point
    nobody calls east-west needs none.
    """
    return (
        svc.has_edge_copies
        and svc.has_region_copy
        and svc.effective_failover is Failover.REGION
        and any(c.has_edge_copies and svc.name in c.calls for c in services)
    )


@dataclass(frozen=True)
class SharedName:
    """A name a service's copy takes in an application's one namespace."""

    name: str
    service: str  # the spec's service whose copy it is
    zone: str | None  # the edge zone of that copy; None: the Region copy
    local: bool = False  # the zone copy's ``-local`` Service (its ALB's target)

    def describe(self) -> str:
        if self.zone is None:
            return f"the Region copy of service {self.service!r} (Deployment, Service, DestinationRule {self.name})"
        if self.local:
            return (f"the Service {self.name} over the pods of service {self.service!r} in zone {self.zone} "
                    "(the zone's ALB target)")
        return (f"the copy of service {self.service!r} in zone {self.zone} "
                f"(Deployment, Service, DestinationRule {self.name})")


def shared_namespace_names(
    services: Sequence[ServiceSpec], edge_zones: Sequence[tuple[str, str]]
) -> Iterator[SharedName]:
    """Every name the copies of ``services`` take when all share one namespace (routing
    ``istio``): the Region copy ``<svc>``, each edge zone's copy ``<svc>-<zone slug>``
    (its Deployment or StatefulSet, PodDisruptionBudget, Service and DestinationRule all
    carry it) and, for an exposed copy that is called with failover, ``<copy>-local``.
    ``edge_zones``: (zone name, slug) of every edge zone of the topology."""
    for svc in services:
        if svc.has_region_copy:
            yield SharedName(svc.name, svc.name, None)
        if not svc.has_edge_copies:
            continue
        local = svc.expose is not None and fails_over_from_edge(svc, services)
        for zone, slug in edge_zones:
            copy = zone_copy_name(svc.name, slug)
            yield SharedName(copy, svc.name, zone)
            if local:
                yield SharedName(zone_local_name(copy), svc.name, zone, local=True)


def shared_namespace_clashes(
    app: Application, edge_zones: Sequence[tuple[str, str]], doc: Document | None = None
) -> list[Problem]:
    """Problems for services whose names meet another service's copy once every copy is
    in one namespace (routing ``istio``; none for the other backends, which keep a
    namespace per zone). The service to rename is the longer name of the two (the one
    that repeats ``<other>-<zone slug>``); each problem points at its ``name``."""
    if app.spec.routing is not Routing.ISTIO:
        return []
    services = list(app.spec.services)
    first: dict[str, SharedName] = {}
    clashes: dict[str, SharedName] = {}  # the service to rename -> the other's name it takes
    for n in shared_namespace_names(services, edge_zones):
        other = first.setdefault(n.name, n)
        if other.service == n.service:
            continue
        rename, keep = sorted((n, other), key=lambda x: (-len(x.service), x.service))
        clashes.setdefault(rename.service, keep)
    problems: list[Problem] = []
    namespace = dns_label(app.metadata.name)
    for name, keep in sorted(clashes.items()):
        index = next(i for i, s in enumerate(services) if s.name == name)
        at = ("spec", "services", index, "name")
        message = (
            f"service {name!r} has the name of {keep.describe()}: with routing istio every copy is in "
            f"namespace {namespace}, and a zone's copy of a service is named <service>-<zone slug>"
        )
        fix = (f"rename service {name!r} (a service's name must not be another service's name followed by "
               "an edge zone's slug), or use another routing backend")
        problems.append(doc.problem(at, message, fix) if doc is not None
                        else Problem("", 0, 0, format_path(at), message, fix))
    return problems
