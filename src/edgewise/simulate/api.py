"""``simulate``: every routing strategy under every failure scenario, per user zone."""

from __future__ import annotations

import difflib
import zlib
from collections.abc import Sequence

import numpy as np

from ..errors import InputError
from ..spec import Application, Spec
from ..topology import Topology
from .engine import Latencies, call_graph, entry_services, optimum_table, sample_zone
from .result import Metrics, ScenarioResult, SimulationResult, StrategyResult, metrics_of
from .scenarios import Scenario, default_scenarios, fail_scenario, select_scenarios
from .strategies import STRATEGY_NAMES, strategy_objects

__all__ = ["pick_application", "simulate"]


def pick_application(spec: Spec, name: str | None = None) -> Application:
    """The Application to simulate: ``name``, else the spec's first."""
    apps = [a for a, _ in spec.applications]
    if not apps:
        raise InputError(
            [
                spec.topology_doc.problem(
                    (),
                    "simulate needs an Application (its services and calls); the spec has none",
                    "add a 'kind: Application' document (see examples/local-zones-hashicups)",
                )
            ]
        )
    if name is None:
        return apps[0]
    for a in apps:
        if a.metadata.name == name:
            return a
    names = [a.metadata.name for a in apps]
    near = difflib.get_close_matches(name, names, n=1)
    raise InputError.single(
        "--app",
        f"unknown application {name!r}",
        hint=(f"did you mean '{near[0]}'? " if near else "") + "applications: " + ", ".join(names),
    )


def _strategies(names: Sequence[str] | None) -> list[str]:
    if names is None or not names:
        return list(STRATEGY_NAMES)
    problems = []
    for n in names:
        if n not in STRATEGY_NAMES:
            near = difflib.get_close_matches(n, STRATEGY_NAMES, n=1)
            problems.extend(
                InputError.single(
                    "--strategy",
                    f"unknown strategy {n!r}",
                    hint=(f"did you mean '{near[0]}'? " if near else "") + "strategies: " + ", ".join(STRATEGY_NAMES),
                ).problems
            )
    if problems:
        raise InputError(problems)
    return list(dict.fromkeys(names))


def _rng(seed: int, scenario: str, zone: str) -> np.random.Generator:
    """One stream per (scenario, user zone): the same for every strategy (common random
    numbers make strategy differences sharper) and independent of which others run."""
    return np.random.default_rng([seed & 0xFFFFFFFF, zlib.crc32(scenario.encode()), zlib.crc32(zone.encode())])


def simulate(
    spec: Spec,
    topology: Topology,
    *,
    scenarios: Sequence[str] | None = None,
    fail: Sequence[str] = (),
    requests: int = 2000,
    seed: int = 0,
    strategies: Sequence[str] | None = None,
    application: str | None = None,
) -> SimulationResult:
    """Compare routing strategies on ``topology`` for one Application of ``spec``.

    ``requests`` requests are sampled per user zone, strategy and scenario; ``scenarios``
    selects scenarios by name (default: all; see :mod:`edgewise.simulate.scenarios`);
    ``fail`` adds one combined scenario (``ZONE`` lost or ``ZONE/SERVICE`` down);
    ``strategies`` selects among ``flat``, ``prefer-close``, ``namespace-per-zone``,
    ``edgewise`` (default: all). Deterministic for a given ``seed``.
    """
    from .compile import compile_strategy, route_model

    if requests < 1:
        raise InputError.single(
            "--requests",
            f"requests must be at least 1 (got {requests})",
            hint="use e.g. --requests 2000",
        )
    app = pick_application(spec, application)
    call_graph(app)  # a cycle is an input error before any work
    names = _strategies(strategies)
    available = default_scenarios(topology, app)
    extra = fail_scenario(topology, app, fail)
    if extra is not None:
        available.append(extra)
    chosen: list[Scenario] = select_scenarios(available, scenarios)
    if extra is not None and scenarios is not None and extra not in chosen:
        chosen.append(extra)
    exposed = entry_services(app)
    user_zones = tuple(z.name for z in topology.zones)

    lat = Latencies.of(topology)
    compiled = [compile_strategy(topology, app, strategy_objects(topology, app, n), lat) for n in names]
    per_strategy: dict[str, list[ScenarioResult]] = {n: [] for n in names}
    total_calls = 0
    total_requests = 0
    for scenario in chosen:
        best = optimum_table(topology, app, scenario, user_zones, exposed, lat)
        for cs in compiled:
            model = route_model(cs, scenario, user_zones, exposed)
            per_zone: dict[str, Metrics] = {}
            pooled: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
            calls = unreachable = 0
            for u in user_zones:
                smp = sample_zone(model, u, exposed, requests, _rng(seed, scenario.name, u))
                ref = [best[(u, s)] for s in exposed]
                # a request that succeeded always has a feasible optimum; guard anyway
                opt = np.array([r[0] if r else np.nan for r in ref])[smp.exposed]
                phys = np.array([r[1] if r else np.nan for r in ref])[smp.exposed]
                opt = np.where(np.isnan(opt), smp.latency, opt)
                phys = np.where(np.isnan(phys), smp.latency, phys)
                per_zone[u] = metrics_of(smp.success, smp.latency, opt, phys, smp.calls, smp.unreachable)
                pooled.append((smp.success, smp.latency, opt, phys))
                calls += smp.calls
                unreachable += smp.unreachable
                total_requests += requests
            total_calls += calls
            overall = metrics_of(
                np.concatenate([p[0] for p in pooled]),
                np.concatenate([p[1] for p in pooled]),
                np.concatenate([p[2] for p in pooled]),
                np.concatenate([p[3] for p in pooled]),
                calls,
                unreachable,
            )
            per_strategy[cs.name].append(ScenarioResult(scenario.name, overall, per_zone))

    notes: list[str] = []
    for cs in compiled:
        notes.extend(cs.notes)
    return SimulationResult(
        application=app.metadata.name,
        routing=app.spec.routing.value,
        requests=requests,
        seed=seed,
        user_zones=user_zones,
        strategies=tuple(StrategyResult(cs.name, cs.summary, tuple(per_strategy[cs.name])) for cs in compiled),
        notes=tuple(dict.fromkeys(notes)),
        simulated_calls=total_calls,
        simulated_requests=total_requests,
    )
