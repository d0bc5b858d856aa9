"""A plot of a simulation: success rate and p95 latency per scenario, one line per strategy.

Output is deterministic (byte-identical for the same result): the Agg backend, a fixed
SVG hash salt, and no date or software version in the file metadata.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import InputError
from .result import SimulationResult

__all__ = ["plot"]

_MARKERS = ("o", "s", "^", "D", "v", "P")


def plot(result: SimulationResult, path: str | os.PathLike[str]) -> None:
    """Write the plot to ``path`` (``.svg`` or ``.png``).

    Raises :class:`InputError` for another file type and :class:`ImportError` when
    matplotlib (the optional ``plot`` extra) is not installed.
    """
    target = Path(path)
    fmt = target.suffix.lower().lstrip(".")
    if fmt not in ("svg", "png"):
        raise InputError.single(
            "--plot",
            f"cannot write a plot to {target.name!r}",
            hint="use a file name ending in .svg or .png",
        )
    try:
        import matplotlib
    except ImportError as exc:  # optional dependency: callers decide how to report it
        raise ImportError("plotting needs matplotlib: pip install 'edgewise[plot]'") from exc
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    scenarios = [sc.name for sc in result.strategies[0].scenarios] if result.strategies else []
    x = list(range(len(scenarios)))
    width = max(8.0, 0.35 * len(scenarios) + 3.0)
    with matplotlib.rc_context({"svg.hashsalt": "edgewise", "svg.fonttype": "path"}):
        fig, (top, bottom) = plt.subplots(2, 1, figsize=(width, 7.5), sharex=True)
        try:
            for k, s in enumerate(result.strategies):
                marker = _MARKERS[k % len(_MARKERS)]
                rates = [100.0 * sc.metrics.success_rate for sc in s.scenarios]
                p95 = [sc.metrics.p95 if sc.metrics.p95 is not None else float("nan") for sc in s.scenarios]
                top.plot(x, rates, marker=marker, linewidth=1, markersize=4, label=s.name)
                bottom.plot(x, p95, marker=marker, linewidth=1, markersize=4, label=s.name)
            top.set_ylabel("requests succeeded (%)")
            top.set_ylim(-2, 102)
            top.grid(True, linewidth=0.3)
            top.legend(loc="lower left", fontsize="small")
            top.set_title(
                f"{result.application} ({result.routing}): {result.requests} requests per user zone, seed {result.seed}"
            )
            bottom.set_ylabel("p95 latency of successful requests (ms)")
            bottom.grid(True, linewidth=0.3)
            bottom.set_xticks(x)
            bottom.set_xticklabels(scenarios, rotation=90, fontsize="x-small")
            fig.tight_layout()
            metadata: dict[str, str | None] = {"Date": None} if fmt == "svg" else {"Software": None}
            target.parent.mkdir(parents=True, exist_ok=True)
            fig.savefig(target, format=fmt, metadata=metadata, dpi=100)
        finally:
            plt.close(fig)
