"""Simulation results and their JSON form.

JSON layout (stable; rates are fractions in [0, 1], latencies in milliseconds)::

    {"strategies": [{"name": ..., "scenarios": [{
        "name": ..., "success_rate": ..., "unreachable_rate": ...,
        "latency_ms": {"p50": ..., "p95": ..., "p99": ...},
        "optimum_ratio": ..., "physical_ratio": ...,
        "per_zone": {<user zone>: {same metrics, without name/per_zone}}}]}]}

Latency percentiles and ratios are over *successful* requests only; they are ``null``
when no request succeeded (and a ratio is ``null`` when its reference is zero).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # numpy is imported when metrics are computed, not when results are read
    import numpy as np

    from .engine import FloatArray

__all__ = ["Metrics", "ScenarioResult", "SimulationResult", "StrategyResult", "metrics_of"]


def _round(x: float | None, digits: int) -> float | None:
    return None if x is None else round(float(x), digits)


@dataclass(frozen=True)
class Metrics:
    """Metrics of a set of requests (one user zone, or all of them pooled)."""

    requests: int
    success_rate: float
    unreachable_rate: float  # calls sent to unreachable endpoints / calls attempted
    p50: float | None
    p95: float | None
    p99: float | None
    mean_latency_ms: float | None
    optimum_ratio: float | None  # mean latency / mean best-routing latency (same requests)
    physical_ratio: float | None  # mean latency / the same best placement at fibre speed

    def to_json(self) -> dict[str, Any]:
        return {
            "success_rate": _round(self.success_rate, 6),
            "unreachable_rate": _round(self.unreachable_rate, 6),
            "latency_ms": {
                "p50": _round(self.p50, 3),
                "p95": _round(self.p95, 3),
                "p99": _round(self.p99, 3),
            },
            "optimum_ratio": _round(self.optimum_ratio, 4),
            "physical_ratio": _round(self.physical_ratio, 4),
        }


def metrics_of(
    success: Sequence[bool] | np.ndarray,
    latency: FloatArray,
    best: FloatArray,
    physical: FloatArray,
    calls: int,
    unreachable: int,
) -> Metrics:
    """Metrics from per-request arrays (``best``/``physical``: that request's optimum)."""
    import numpy as np

    ok = np.asarray(success, dtype=np.bool_)
    n = int(ok.size)
    good = latency[ok]
    p50: float | None = None
    p95: float | None = None
    p99: float | None = None
    mean: float | None = None
    opt: float | None = None
    phys: float | None = None
    if good.size:
        p50, p95, p99 = (float(v) for v in np.percentile(good, [50, 95, 99]))
        mean = float(good.mean())
        b = float(best[ok].mean())
        ph = float(physical[ok].mean())
        opt = mean / b if b > 0 else None
        phys = mean / ph if ph > 0 else None
    return Metrics(
        requests=n,
        success_rate=float(ok.mean()) if n else 0.0,
        unreachable_rate=unreachable / calls if calls else 0.0,
        p50=p50,
        p95=p95,
        p99=p99,
        mean_latency_ms=mean,
        optimum_ratio=opt,
        physical_ratio=phys,
    )


@dataclass(frozen=True)
class ScenarioResult:
    name: str
    metrics: Metrics
    per_zone: dict[str, Metrics]

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            **self.metrics.to_json(),
            "per_zone": {z: m.to_json() for z, m in self.per_zone.items()},
        }


@dataclass(frozen=True)
class StrategyResult:
    name: str
    summary: str
    scenarios: tuple[ScenarioResult, ...]

    def scenario(self, name: str) -> ScenarioResult:
        for s in self.scenarios:
            if s.name == name:
                return s
        raise KeyError(f"no scenario {name!r} in strategy {self.name!r}")

    def worst(self) -> ScenarioResult:
        """Lowest success rate; ties broken by more unreachable calls, then higher p99."""
        return min(
            self.scenarios,
            key=lambda s: (
                s.metrics.success_rate,
                -s.metrics.unreachable_rate,
                -(s.metrics.p99 or 0.0),
            ),
        )

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "scenarios": [s.to_json() for s in self.scenarios]}


@dataclass(frozen=True)
class SimulationResult:
    """Every strategy under every scenario, with per user zone metrics."""

    application: str
    routing: str
    requests: int  # per user zone and scenario
    seed: int
    user_zones: tuple[str, ...]
    strategies: tuple[StrategyResult, ...]
    notes: tuple[str, ...] = field(default=())
    simulated_calls: int = 0  # east-west calls sampled (all strategies and scenarios)
    simulated_requests: int = 0

    def strategy(self, name: str) -> StrategyResult:
        for s in self.strategies:
            if s.name == name:
                return s
        raise KeyError(f"no strategy {name!r} in the result")

    def to_json(self) -> dict[str, Any]:
        return {"strategies": [s.to_json() for s in self.strategies]}
