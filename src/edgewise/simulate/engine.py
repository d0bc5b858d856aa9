"""Sampling requests through per-scenario route tables, and what they should have cost.

The route resolver is asked once per (caller copy, call); for a scenario, its tiers and
the scenario's health give each call a distribution over outcomes: a reachable copy
(with the hop's RTT), an endpoint the caller's zone cannot reach, or nothing to call.
This module only samples those distributions (vectorised with numpy: no resolving per
request) and computes, independently of any strategy, the latency of the best routing
the network allows.

Request model (documented for users in the CLI help and the JSON docs):

* users of a zone enter through an exposed service's copy (their own zone's ingress,
  else the lowest-latency one); each request picks one exposed service uniformly;
* every copy calls each of its callees once, in order; a call that lands on an
  unreachable endpoint, or resolves to nothing, fails, and the calls below it are not
  made; a request succeeds only if every call in its tree succeeds;
* latency = users -> entry RTT + the RTT of every hop, summed (sequential calls);
  failed requests are excluded from latency percentiles and ratios.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np
import numpy.typing as npt

from ..errors import InputError
from ..spec import Application
from ..topology import Topology
from .scenarios import Scenario, copy_zones

__all__ = [
    "Copy",
    "Expectation",
    "Hop",
    "Latencies",
    "RouteModel",
    "ZoneSample",
    "call_graph",
    "entry_services",
    "expected",
    "optimum",
    "optimum_table",
    "sample_zone",
]

#: outcome codes of a call that does not land on a copy
UNREACHABLE = -1
NOTHING = -2

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class Copy:
    """A sampling state: the pods of one workload in one zone."""

    zone: str
    namespace: str
    workload: str
    service: str | None  # the Application's service these pods run (None: not one of them)


@dataclass(frozen=True)
class Hop:
    """Outcome distribution of one call from one copy, under one scenario."""

    targets: tuple[tuple[int, float], ...]  # (copy index, probability): reachable and healthy
    unreachable: float  # sent to an endpoint the caller's zone cannot reach
    nothing: float  # the name does not resolve, or no endpoint is healthy

    @staticmethod
    def fail() -> Hop:
        return Hop((), 0.0, 1.0)


@dataclass
class RouteModel:
    """Everything sampling needs for one strategy under one scenario."""

    copies: tuple[Copy, ...]
    calls: Mapping[str, tuple[str, ...]]  # service -> callees, in call order
    hops: Mapping[tuple[int, str], Hop]  # (caller copy index, callee service) -> outcomes
    #: (user zone, exposed service) -> where those users enter: (copy index, users -> entry
    #: RTT, probability) per ingress Route 53 may answer with; empty: no usable ingress
    entries: Mapping[tuple[str, str], tuple[tuple[int, float, float], ...]]
    rtt: FloatArray  # [copy, copy] modelled RTT between the copies' zones (nan: unreachable)

    def __post_init__(self) -> None:
        self._tables: dict[str, tuple[FloatArray, IntArray]] = {}

    def table(self, callee: str) -> tuple[FloatArray, IntArray]:
        """Per caller copy, the outcomes of a call to ``callee`` as (cumulative
        probabilities, outcome codes), padded to the widest row: a code >= 0 is the copy
        the call lands on, :data:`UNREACHABLE` an endpoint the caller cannot reach,
        :data:`NOTHING` no endpoint at all. Rows of copies that do not call ``callee``
        are "nothing". Rows are short (the reachable targets, plus two), so sampling is
        O(requests x targets), not O(requests x copies).
        """
        got = self._tables.get(callee)
        if got is not None:
            return got
        n = len(self.copies)
        rows: dict[int, list[tuple[float, int]]] = {}
        for (i, name), hop in self.hops.items():
            if name != callee:
                continue
            out = [(p, j) for j, p in hop.targets if p > 0]
            if hop.unreachable > 0:
                out.append((hop.unreachable, UNREACHABLE))
            if hop.nothing > 0 or not out:
                out.append((max(hop.nothing, 0.0), NOTHING))
            rows[i] = out
        width = max((len(r) for r in rows.values()), default=1)
        cum = np.ones((n, width))
        codes = np.full((n, width), NOTHING, dtype=np.int64)
        for i, out in rows.items():
            total = sum(p for p, _ in out)
            acc = 0.0
            for k, (p, code) in enumerate(out):
                acc += p / total if total > 0 else 0.0
                cum[i, k] = acc
                codes[i, k] = code
            cum[i, len(out) - 1 :] = 1.0  # the last outcome closes the interval (rounding)
        self._tables[callee] = (cum, codes)
        return cum, codes


def call_graph(app: Application) -> dict[str, tuple[str, ...]]:
    """service -> callees; a cycle is an input error (a request would never finish)."""
    graph = {s.name: tuple(dict.fromkeys(s.calls)) for s in app.spec.services}
    state: dict[str, int] = {}

    def visit(n: str, path: list[str]) -> None:
        if state.get(n) == 2:
            return
        if state.get(n) == 1:
            loop = " -> ".join([*path[path.index(n) :], n])
            raise InputError.single(
                f"Application {app.metadata.name}",
                f"services call each other in a cycle: {loop}",
                hint="simulate follows the call graph from the exposed services; break the cycle",
            )
        state[n] = 1
        for c in graph.get(n, ()):
            visit(c, [*path, n])
        state[n] = 2

    for s in graph:
        visit(s, [])
    return graph


def entry_services(app: Application) -> tuple[str, ...]:
    """Services users call: the exposed ones; without any, the services nobody calls."""
    exposed = tuple(s.name for s in app.spec.services if s.expose is not None)
    if exposed:
        return exposed
    called = {c for s in app.spec.services for c in s.calls}
    roots = tuple(s.name for s in app.spec.services if s.name not in called)
    return roots or (app.spec.services[0].name,)


def _tree(graph: Mapping[str, tuple[str, ...]], root: str) -> list[tuple[int, str]]:
    """The call tree under ``root`` unrolled: (parent node, service) per node, node 0 = root."""
    nodes: list[tuple[int, str]] = [(-1, root)]
    i = 0
    while i < len(nodes):
        for callee in graph.get(nodes[i][1], ()):
            nodes.append((i, callee))
        i += 1
    return nodes


@dataclass
class ZoneSample:
    """Sampled requests of one user zone."""

    success: BoolArray  # [N]
    latency: FloatArray  # [N] (meaningful where success)
    exposed: IntArray  # [N] index into the exposed services
    calls: int  # calls attempted
    unreachable: int  # calls sent to an unreachable endpoint


def sample_zone(
    model: RouteModel, user_zone: str, exposed: Sequence[str], n: int, rng: np.random.Generator
) -> ZoneSample:
    """Sample ``n`` requests of users in ``user_zone`` through ``model``."""
    pick = rng.integers(0, len(exposed), size=n) if len(exposed) > 1 else np.zeros(n, dtype=np.int64)
    success = np.zeros(n, dtype=np.bool_)
    latency = np.zeros(n)
    calls = 0
    unreachable = 0
    for k, service in enumerate(exposed):
        idx = np.nonzero(pick == k)[0]
        if idx.size == 0:
            continue
        entry = model.entries.get((user_zone, service), ())
        if not entry:
            continue  # no ingress these users can use: every request fails
        nodes = _tree(model.calls, service)
        m = idx.size
        cur = np.full((len(nodes), m), -1, dtype=np.int64)
        if len(entry) == 1:
            cur[0] = entry[0][0]
            lat = np.full(m, entry[0][1])
        else:
            p = np.array([e[2] for e in entry])
            which = rng.choice(len(entry), size=m, p=p / p.sum())
            cur[0] = np.array([e[0] for e in entry], dtype=np.int64)[which]
            lat = np.array([e[1] for e in entry])[which]
        ok = np.ones(m, dtype=np.bool_)
        for node, (parent, callee) in enumerate(nodes[1:], start=1):
            par = cur[parent]
            rows = np.nonzero(par >= 0)[0]
            if rows.size == 0:
                continue
            cum, codes = model.table(callee)
            u = rng.random(rows.size)
            callers = par[rows]
            k = (u[:, None] >= cum[callers]).sum(axis=1)
            np.minimum(k, cum.shape[1] - 1, out=k)
            outcome = codes[callers, k]
            calls += int(rows.size)
            unreachable += int(np.count_nonzero(outcome == UNREACHABLE))
            failed = outcome < 0
            ok[rows[failed]] = False
            good = rows[~failed]
            nxt = outcome[~failed]
            cur[node, good] = nxt
            lat[good] += model.rtt[par[good], nxt]
        success[idx] = ok
        latency[idx] = lat
    return ZoneSample(success, latency, pick, calls, unreachable)


@dataclass(frozen=True)
class Expectation:
    """Exact expected metrics of one user zone (the limit of :func:`sample_zone`)."""

    success_rate: float
    unreachable_rate: float  # expected unreachable calls / expected calls
    mean_latency_ms: float | None  # mean latency of successful requests


def expected(model: RouteModel, user_zone: str, exposed: Sequence[str]) -> Expectation:
    """Exact expectations from the distributions, averaged over the exposed services."""

    @cache
    def sub(i: int) -> tuple[float, float, float, float]:
        """(P(success), E[calls], E[unreachable calls], E[latency * 1{success}]) below copy i."""
        svc = model.copies[i].service
        succ, att, unr = 1.0, 0.0, 0.0
        parts: list[tuple[float, float]] = []  # per call: (P(ok), E[lat * 1{ok}])
        for callee in model.calls.get(svc, ()) if svc is not None else ():
            hop = model.hops.get((i, callee), Hop.fail())
            total = sum(p for _, p in hop.targets) + hop.unreachable + hop.nothing
            b, a = 0.0, 0.0
            att += 1.0
            unr += hop.unreachable / total
            for j, p in hop.targets:
                sj, aj, uj, lj = sub(j)
                q = p / total
                b += q * sj
                a += q * (float(model.rtt[i, j]) * sj + lj)
                att += q * aj
                unr += q * uj
            parts.append((b, a))
            succ *= b
        lat = 0.0
        for k, (_, a) in enumerate(parts):
            prod = a
            for m, (b, _) in enumerate(parts):
                if m != k:
                    prod *= b
            lat += prod
        return succ, att, unr, lat

    s_sum = a_sum = u_sum = l_sum = 0.0
    for service in exposed:
        entries = model.entries.get((user_zone, service), ())
        weight = sum(e[2] for e in entries)
        for copy, rtt, p in entries:
            q = p / weight
            s, a, u, lat = sub(copy)
            s_sum += q * s
            a_sum += q * a
            u_sum += q * u
            l_sum += q * (lat + rtt * s)
    k = len(exposed)
    return Expectation(
        success_rate=s_sum / k,
        unreachable_rate=u_sum / a_sum if a_sum > 0 else 0.0,
        mean_latency_ms=l_sum / s_sum if s_sum > 0 else None,
    )


@dataclass(frozen=True)
class Latencies:
    """Every zone-to-zone and users-to-entry RTT of a topology, computed once.

    Arrays are indexed by topology zone order; ``nan`` where the topology says there is
    no path (unreachable zones, internet users and a Wavelength entry point).
    """

    zones: tuple[str, ...]
    index: Mapping[str, int]
    rtt: FloatArray
    physical: FloatArray
    user: FloatArray  # [users' zone, entry zone]
    user_physical: FloatArray

    @classmethod
    def of(cls, topology: Topology) -> Latencies:
        names = tuple(z.name for z in topology.zones)
        n = len(names)
        mats = [np.full((n, n), np.nan) for _ in range(4)]
        for a, za in enumerate(topology.zones):
            for b, zb in enumerate(topology.zones):
                for k, v in enumerate(
                    (
                        topology.rtt_ms(za, zb),
                        topology.rtt_ms(za, zb, physical=True),
                        topology.user_rtt_ms(za, zb),
                        topology.user_rtt_ms(za, zb, physical=True),
                    )
                ):
                    if v is not None:
                        mats[k][a, b] = v
        return cls(names, {z: i for i, z in enumerate(names)}, *mats)


Optimum = dict[tuple[str, str], tuple[float, float] | None]


def optimum_table(
    topology: Topology,
    app: Application,
    scenario: Scenario,
    user_zones: Sequence[str],
    services: Sequence[str],
    latencies: Latencies | None = None,
) -> Optimum:
    """Best latency for requests of each user zone entering at each of ``services``.

    Every call goes to the best reachable healthy copy. Users enter through their own
    zone's ingress when it is healthy (where users are is not a routing decision), else
    through the healthy ingress that gives the fastest request. Values are (modelled ms,
    the same placement at fibre speed with no overhead), or None when no routing at all
    could serve the request. A dynamic programme over (service, zone), vectorised over
    zones: callees first, each call's best copy is an argmin over a row of the RTT matrix.
    """
    lat = latencies or Latencies.of(topology)
    graph = call_graph(app)
    specs = {s.name: s for s in app.spec.services}
    n = len(lat.zones)
    rows = np.arange(n)
    rtt = np.where(np.isnan(lat.rtt), np.inf, lat.rtt)
    healthy: dict[str, BoolArray] = {}
    for name, spec in specs.items():
        mask = np.zeros(n, dtype=np.bool_)
        for z in copy_zones(topology, spec):
            mask[lat.index[z.name]] = scenario.copy_healthy(z.name, name)
        healthy[name] = mask
    cost: dict[str, FloatArray] = {}
    phys: dict[str, FloatArray] = {}

    def solve(svc: str) -> None:
        if svc in cost:
            return
        c = np.zeros(n)
        p = np.zeros(n)
        for callee in graph[svc]:
            solve(callee)
            cand = rtt + cost[callee][None, :]
            cand[:, ~healthy[callee]] = np.inf
            j = np.argmin(cand, axis=1)
            c += cand[rows, j]
            p += np.nan_to_num(lat.physical[rows, j]) + phys[callee][j]
        cost[svc] = c
        phys[svc] = p

    out: Optimum = {}
    for svc in services:
        solve(svc)
        total = np.where(healthy[svc][None, :], lat.user + cost[svc][None, :], np.inf)
        total = np.where(np.isnan(total), np.inf, total)
        for u in user_zones:
            k = lat.index[u]
            row = total[k]
            e = k if np.isfinite(row[k]) else int(np.argmin(row))
            if not np.isfinite(row[e]):
                out[(u, svc)] = None
                continue
            out[(u, svc)] = (float(row[e]), float(lat.user_physical[k, e] + phys[svc][e]))
    return out


def optimum(
    topology: Topology, app: Application, scenario: Scenario, user_zone: str, service: str
) -> tuple[float, float] | None:
    """:func:`optimum_table` for one user zone and one entry service."""
    return optimum_table(topology, app, scenario, [user_zone], [service])[(user_zone, service)]
