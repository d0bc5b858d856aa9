"""Failure scenarios: which service copies are down and which zones are lost.

A *copy* is the set of pods of one service in one zone. The spec's placement decides
where copies exist (every edge zone and/or every Region AZ), the same for every routing
strategy, so scenarios are built from the spec alone and every strategy is measured
against the same failures.

Scenario names are stable identifiers users type back (``--scenario``) and read in the
JSON output:

* ``steady`` - nothing fails;
* ``copy-down:<zone>/<service>`` - one copy is down (its pods are not Ready, so they
  leave the endpoints; Route 53 health checks of that zone's ingress fail);
* ``zone-lost:<zone>`` - an edge zone is gone (every copy in it is down);
* ``az-lost:<zone>`` - a Region AZ is gone;
* ``fail:<a>+<b>`` - the combination the user named with ``--fail``.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass

from ..errors import InputError
from ..spec import Application, Placement, ServiceSpec
from ..topology import Topology, Zone

__all__ = [
    "Scenario",
    "copy_zones",
    "default_scenarios",
    "fail_scenario",
    "select_scenarios",
]


@dataclass(frozen=True)
class Scenario:
    """A set of simultaneous failures."""

    name: str
    lost_zones: frozenset[str] = frozenset()
    down: frozenset[tuple[str, str]] = frozenset()  # (zone, service) copies that are down

    def copy_healthy(self, zone: str, service: str | None) -> bool:
        """Whether pods of ``service`` in ``zone`` are Ready (unknown services: zone health)."""
        if zone in self.lost_zones:
            return False
        return service is None or (zone, service) not in self.down

    def zone_up(self, zone: str) -> bool:
        return zone not in self.lost_zones


def copy_zones(topology: Topology, service: ServiceSpec) -> tuple[Zone, ...]:
    """Zones that hold a copy of ``service``, in topology order.

    ``edge`` and ``edge-and-region`` put one copy in every edge zone; ``region`` and
    ``edge-and-region`` one in every Region AZ.
    """
    out: list[Zone] = []
    edge = service.placement in (Placement.EDGE, Placement.EDGE_AND_REGION)
    region = service.placement in (Placement.REGION, Placement.EDGE_AND_REGION)
    for z in topology.zones:
        if (z.is_edge and edge) or (z.is_region and region):
            out.append(z)
    return tuple(out)


def default_scenarios(topology: Topology, app: Application) -> list[Scenario]:
    """``steady``, every single copy failure, every edge zone lost, every AZ lost."""
    out = [Scenario("steady")]
    for z in topology.zones:
        for s in app.spec.services:
            if z in copy_zones(topology, s):
                out.append(Scenario(f"copy-down:{z.name}/{s.name}", down=frozenset({(z.name, s.name)})))
    for z in topology.edge_zones:
        out.append(Scenario(f"zone-lost:{z.name}", lost_zones=frozenset({z.name})))
    for z in topology.region_zones:
        out.append(Scenario(f"az-lost:{z.name}", lost_zones=frozenset({z.name})))
    return out


def _suggest(value: str, choices: Sequence[str]) -> str:
    near = difflib.get_close_matches(value, list(choices), n=1, cutoff=0.5)
    return f"did you mean '{near[0]}'? " if near else ""


def fail_scenario(topology: Topology, app: Application, values: Sequence[str]) -> Scenario | None:
    """The scenario named by ``--fail ZONE`` / ``--fail ZONE/SERVICE`` values (None if none).

    Bad values raise :class:`InputError` (exit code 2) with a suggestion: an unknown
    zone, an unknown service, or a service that has no copy in that zone.
    """
    if not values:
        return None
    zone_names = [z.name for z in topology.zones]
    services = {s.name: s for s in app.spec.services}
    lost: set[str] = set()
    down: set[tuple[str, str]] = set()
    parts: list[str] = []
    problems = []
    for raw in values:
        value = raw.strip()
        zone_name, _, service_name = value.partition("/")
        if not topology.has_zone(zone_name):
            problems.append(
                InputError.single(
                    "--fail",
                    f"unknown zone {zone_name!r} in {raw!r}",
                    hint=_suggest(zone_name, zone_names) + "zones: " + ", ".join(zone_names),
                ).problems[0]
            )
            continue
        if not service_name:
            lost.add(zone_name)
            parts.append(zone_name)
            continue
        spec = services.get(service_name)
        if spec is None:
            problems.append(
                InputError.single(
                    "--fail",
                    f"unknown service {service_name!r} in {raw!r}",
                    hint=_suggest(service_name, sorted(services))
                    + f"services of {app.metadata.name}: "
                    + ", ".join(sorted(services)),
                ).problems[0]
            )
            continue
        where = [z.name for z in copy_zones(topology, spec)]
        if zone_name not in where:
            problems.append(
                InputError.single(
                    "--fail",
                    f"{service_name!r} has no copy in {zone_name!r} (placement {spec.placement.value})",
                    hint=(
                        f"use one of: {', '.join(f'{z}/{service_name}' for z in where)}"
                        if where
                        else "pick another service"
                    ),
                ).problems[0]
            )
            continue
        down.add((zone_name, service_name))
        parts.append(f"{zone_name}/{service_name}")
    if problems:
        raise InputError(problems)
    unique = list(dict.fromkeys(parts))
    return Scenario("fail:" + "+".join(unique), lost_zones=frozenset(lost), down=frozenset(down))


def select_scenarios(available: Sequence[Scenario], names: Sequence[str] | None) -> list[Scenario]:
    """The scenarios named (in the order given), or all of them when ``names`` is None."""
    if names is None:
        return list(available)
    by_name = {s.name: s for s in available}
    out: list[Scenario] = []
    problems = []
    for n in names:
        if n in by_name:
            if by_name[n] not in out:
                out.append(by_name[n])
        else:
            problems.append(
                InputError.single(
                    "--scenario",
                    f"unknown scenario {n!r}",
                    hint=_suggest(n, list(by_name)) + "scenarios are steady, copy-down:<zone>/<service>, "
                    "zone-lost:<edge zone>, az-lost:<AZ>; --fail adds fail:<...>",
                ).problems[0]
            )
    if problems:
        raise InputError(problems)
    return out
