"""Human-readable forms of a simulation: a rich table and a one-line headline per strategy."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from .result import Metrics, ScenarioResult, SimulationResult, StrategyResult

__all__ = ["headline", "render", "render_table", "render_worst"]


def _pct(x: float) -> str:
    return f"{100.0 * x:.1f}%"


def _ms(x: float | None) -> str:
    return "-" if x is None else f"{x:.1f}"


def _ratio(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}x"


def _steady(s: StrategyResult) -> ScenarioResult:
    for sc in s.scenarios:
        if sc.name == "steady":
            return sc
    return s.scenarios[0]


def headline(result: SimulationResult) -> str:
    """One line per strategy: steady-state latency and success, and its worst scenario."""
    width = max((len(s.name) for s in result.strategies), default=0)
    lines = []
    for s in result.strategies:
        base = _steady(s)
        m = base.metrics
        worst = s.worst()
        w = worst.metrics
        line = (
            f"{s.name:<{width}}  {base.name}: {_pct(m.success_rate)} ok, p50 {_ms(m.p50)} ms, "
            f"p99 {_ms(m.p99)} ms, {_ratio(m.optimum_ratio)} optimum, "
            f"{_ratio(m.physical_ratio)} physical"
        )
        if worst.name != base.name and (w.success_rate < m.success_rate or w.unreachable_rate > 0):
            line += f"; worst {worst.name}: {_pct(w.success_rate)} ok, {_pct(w.unreachable_rate)} of calls unreachable"
        elif m.unreachable_rate > 0:
            line += f"; {_pct(m.unreachable_rate)} of calls unreachable"
        lines.append(line)
    return "\n".join(lines)


def _row(m: Metrics) -> list[str]:
    return [
        _pct(m.success_rate),
        _pct(m.unreachable_rate),
        _ms(m.p50),
        _ms(m.p95),
        _ms(m.p99),
        _ratio(m.optimum_ratio),
        _ratio(m.physical_ratio),
    ]


def render_table(result: SimulationResult) -> Table:
    """Per strategy: steady-state metrics, and the worst scenario with its success rate."""
    table = Table(
        title=(
            f"{result.application} ({result.routing}): {result.requests} requests per user zone "
            f"x {len(result.user_zones)} zones, seed {result.seed}"
        ),
        caption="latency over successful requests only; unreachable = share of calls sent to "
        "endpoints the caller's zone cannot reach",
    )
    for col in (
        "strategy",
        "success",
        "unreachable",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "vs optimum",
        "vs physical",
        "worst scenario",
        "worst success",
        "worst unreachable",
    ):
        table.add_column(
            col,
            no_wrap=col == "strategy",
            overflow="fold",
            justify="left" if col in ("strategy", "worst scenario") else "right",
        )
    for s in result.strategies:
        base = _steady(s)
        worst = s.worst()
        table.add_row(
            s.name,
            *_row(base.metrics),
            worst.name,
            _pct(worst.metrics.success_rate),
            _pct(worst.metrics.unreachable_rate),
        )
    return table


def render_worst(result: SimulationResult, top: int = 3) -> Table:
    """The ``top`` worst scenarios of each strategy, with per-metric detail."""
    table = Table(title="worst scenarios per strategy")
    for col in (
        "strategy",
        "scenario",
        "success",
        "unreachable",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "vs optimum",
        "vs physical",
    ):
        table.add_column(
            col,
            overflow="fold",
            justify="left" if col in ("strategy", "scenario") else "right",
        )
    for s in result.strategies:
        ranked = sorted(
            s.scenarios,
            key=lambda sc: (
                sc.metrics.success_rate,
                -sc.metrics.unreachable_rate,
                -(sc.metrics.p99 or 0.0),
            ),
        )
        for sc in ranked[:top]:
            table.add_row(s.name, sc.name, *_row(sc.metrics))
        table.add_section()
    return table


def render(result: SimulationResult, console: Console | None = None) -> None:
    """Print the summary table, the worst scenarios and any notes."""
    out = console or Console(highlight=False)
    out.print(render_table(result))
    out.print(render_worst(result))
    for note in result.notes:
        out.print(f"note: {note}", markup=False)
