"""From a strategy's objects to per-scenario route tables, through the shared resolver.

A strategy's objects go into the same :class:`~edgewise.k8s.inventory.Inventory` and
:class:`~edgewise.routing.resolver.RouteResolver` that ``check`` uses. Every call is
resolved once per (caller copy, callee), when the strategy is compiled; a scenario only
applies health to the resolved tiers (:meth:`Resolution.effective`) and reachability to
the endpoints, so nothing is resolved per scenario or per request.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from ..k8s.inventory import Inventory, Source, Workload
from ..routing.calls import Call, parse_host
from ..routing.resolver import Caller, Endpoint, Resolution, RouteResolver
from ..spec import Application
from ..topology import Topology
from .engine import Copy, FloatArray, Hop, Latencies, RouteModel, call_graph
from .scenarios import Scenario
from .strategies import APP_LABEL, CALLS_ANNOTATION, SERVICE_LABEL, StrategyObjects

__all__ = ["CompiledStrategy", "compile_strategy", "route_model"]


@dataclass
class CompiledStrategy:
    """One strategy, resolved: its copies and the resolution of every call they make."""

    name: str
    summary: str
    entry_policy: str  # own-zone | nearest-healthy | weighted (see _entries)
    topology: Topology
    calls: dict[str, tuple[str, ...]]
    copies: list[Copy]
    index: dict[tuple[str, str, str], int]  # (zone, namespace, workload) -> copy index
    #: (copy index, callee service) -> resolution (None: the copy has no call to it)
    resolutions: dict[tuple[int, str], Resolution | None]
    #: (service, zone) -> indices of the copies that can serve users there (entry points)
    entry_copies: dict[tuple[str, str], list[int]]
    latencies: Latencies
    rtt: FloatArray  # [copy, copy] modelled RTT between the copies' zones (nan: unreachable)
    #: zone -> resolutions with an endpoint there (the only ones a failure there changes)
    touch: dict[str, set[tuple[int, str]]]
    notes: list[str] = field(default_factory=list)
    _steady: dict[tuple[int, str], Hop] | None = None

    def steady_hops(self) -> dict[tuple[int, str], Hop]:
        if self._steady is None:
            self._steady = {key: _hop(self, key, Scenario("steady")) for key in self.resolutions}
        return self._steady


def _service_of(w: Workload, known: Mapping[tuple[str, str], str], services: Sequence[str]) -> str | None:
    """The Application service a workload runs: from the strategy, else labels, else its name."""
    got = known.get((w.namespace, w.name))
    if got is not None:
        return got
    for key in (SERVICE_LABEL, APP_LABEL, "edgewise.dev/service"):
        v = w.pod_labels.get(key) or w.obj.labels.get(key)
        if v in services:
            return v
    if w.name in services:
        return w.name
    prefixed = [s for s in services if w.name.startswith(s + "-")]
    return max(prefixed, key=len) if prefixed else None


def compile_strategy(
    topology: Topology,
    app: Application,
    objs: StrategyObjects,
    latencies: Latencies | None = None,
) -> CompiledStrategy:
    """Index ``objs``, find the copies, and resolve every call of every copy once."""
    sources = ((o, Source(f"<{objs.name}>", 0, i)) for i, o in enumerate(objs.objects))
    inv = Inventory.from_objects(sources, topology)
    resolver = RouteResolver(inv, topology)
    graph = call_graph(app)
    services = [s.name for s in app.spec.services]
    zone_order = {z.name: z.index for z in topology.zones}

    svc_of: dict[tuple[str, str], str | None] = {}
    found: list[tuple[tuple[int, int, int], Copy]] = []
    for order, w in enumerate(inv.workloads()):
        s = _service_of(w, objs.service_of, services)
        svc_of[(w.namespace, w.name)] = s
        if s is None:
            continue
        for z in w.zones:
            if w.replicas_in(z) > 0:
                found.append(
                    (
                        (zone_order.get(z, 1 << 30), services.index(s), order),
                        Copy(z, w.namespace, w.name, s),
                    )
                )
    copies = [c for _, c in sorted(found, key=lambda t: t[0])]
    index = {(c.zone, c.namespace, c.workload): i for i, c in enumerate(copies)}

    def add_endpoint_copy(e: Endpoint) -> None:
        key = (e.zone, e.namespace, e.workload)
        if key not in index:
            index[key] = len(copies)
            copies.append(Copy(e.zone, e.namespace, e.workload, svc_of.get((e.namespace, e.workload))))

    calls_by: dict[tuple[str, str], list[Call]] = {}
    for call in resolver.calls():
        calls_by.setdefault((call.namespace, call.workload), []).append(call)

    notes: list[str] = []
    undeclared: dict[str, set[str]] = {}
    resolutions: dict[tuple[int, str], Resolution | None] = {}
    i = 0
    while i < len(copies):  # copies reached only through endpoints are appended as we go
        copy = copies[i]
        caller = Caller(copy.zone, copy.namespace, copy.workload)
        for callee in graph.get(copy.service, ()) if copy.service else ():
            chosen: Resolution | None = None
            by_name: Resolution | None = None
            for made in calls_by.get((copy.namespace, copy.workload), []):
                res = resolver.resolve(caller, made.name, via=made.via)
                if any(svc_of.get((e.namespace, e.workload)) == callee for e in res.endpoints):
                    chosen = res
                    break
                first = parse_host(made.name)[0].split(".", 1)[0]
                if by_name is None and (first == callee or first.startswith(callee + "-")):
                    by_name = res
            chosen = chosen or by_name
            if chosen is None:
                # the manifests do not say how the code names the callee: the spec's
                # `calls` names services, so the code calls the short name (as in the seeds)
                chosen = resolver.resolve(caller, callee)
                undeclared.setdefault(callee, set()).add(f"{copy.namespace}/{copy.workload}")
            for e in chosen.endpoints:
                add_endpoint_copy(e)
            resolutions[(i, callee)] = chosen
        i += 1

    for callee, callers in sorted(undeclared.items()):
        notes.append(
            f"{objs.name}: {len(callers)} workload(s) call {callee} without saying so in their "
            f"manifests (no {CALLS_ANNOTATION} annotation, upstream or env value); simulated "
            f"as calls to the short name {callee!r}: " + ", ".join(sorted(callers))
        )
    entry_copies: dict[tuple[str, str], list[int]] = {}
    for k, c in enumerate(copies):
        if c.service is not None:
            entry_copies.setdefault((c.service, c.zone), []).append(k)
    lat = latencies or Latencies.of(topology)
    zi = np.array([lat.index[c.zone] for c in copies], dtype=np.int64)
    touch: dict[str, set[tuple[int, str]]] = {}
    for key, resolved in resolutions.items():
        for e in resolved.endpoints if resolved is not None else ():
            touch.setdefault(e.zone, set()).add(key)
    return CompiledStrategy(
        objs.name,
        objs.summary,
        objs.entry_policy,
        topology,
        graph,
        copies,
        index,
        resolutions,
        entry_copies,
        lat,
        lat.rtt[np.ix_(zi, zi)],
        touch,
        notes,
    )


def _entries(
    cs: CompiledStrategy, scenario: Scenario, user_zone: str, service: str
) -> tuple[tuple[int, float, float], ...]:
    """Where users of ``user_zone`` enter ``service`` under ``scenario``.

    Users enter through their own zone's ingress (or, with none there, the one with the
    lowest user RTT). Without Route 53 health evaluation, a down entry copy fails them.
    With it, ``latency`` records send them to the healthy ingress with the lowest user RTT
    and ``weighted`` records spread them evenly over every healthy ingress they can use.
    """
    lat = cs.latencies
    row = lat.user[lat.index[user_zone]]
    options: list[tuple[float, int, str]] = []
    for k, z in enumerate(lat.zones):
        if (service, z) in cs.entry_copies and not np.isnan(row[k]):
            options.append((float(row[k]), k, z))
    if not options:
        return ()
    own = [o for o in options if o[2] == user_zone]
    default = own[0] if own else min(options)
    healthy = [o for o in options if scenario.copy_healthy(o[2], service)]
    if cs.entry_policy == "weighted":
        picks = healthy
    elif cs.entry_policy == "nearest-healthy":
        picks = [default] if default in healthy else ([min(healthy)] if healthy else [])
    else:
        picks = [default] if default in healthy else []
    return tuple((cs.entry_copies[(service, o[2])][0], o[0], 1.0) for o in picks)


def _hop(cs: CompiledStrategy, key: tuple[int, str], scenario: Scenario) -> Hop:
    """The outcome distribution of one resolved call under ``scenario``."""
    copies = cs.copies
    i, callee = key
    res = cs.resolutions[key]
    if res is None or not res.found:
        return Hop.fail()

    def healthy(e: Endpoint) -> bool:
        k = cs.index.get((e.zone, e.namespace, e.workload))
        return scenario.copy_healthy(e.zone, copies[k].service if k is not None else None)

    eff = res.effective(healthy)
    total = sum(e.weight for e in eff)
    if not eff or total <= 0:
        return Hop.fail()
    here = copies[i].zone
    targets: dict[int, float] = {}
    unreachable = nothing = 0.0
    for e in eff:
        p = e.weight / total
        j = cs.index[(e.zone, e.namespace, e.workload)]
        if not cs.topology.reachable(here, e.zone):
            unreachable += p
        elif copies[j].service != callee:
            nothing += p  # the name lands on pods of another service: an error reply
        else:
            targets[j] = targets.get(j, 0.0) + p
    return Hop(tuple(sorted(targets.items())), unreachable, nothing)


def route_model(
    cs: CompiledStrategy,
    scenario: Scenario,
    user_zones: Sequence[str],
    entry_services: Sequence[str],
) -> RouteModel:
    """The outcome distributions of every call of every copy under ``scenario``.

    Only resolutions with an endpoint in a failed zone are re-evaluated; every other call
    behaves as in steady state.
    """
    hops = dict(cs.steady_hops())
    failed = set(scenario.lost_zones) | {z for z, _ in scenario.down}
    for zone in sorted(failed):
        for key in cs.touch.get(zone, ()):
            hops[key] = _hop(cs, key, scenario)
    entries = {(u, s): _entries(cs, scenario, u, s) for u in user_zones for s in entry_services}
    return RouteModel(tuple(cs.copies), cs.calls, hops, entries, cs.rtt)
