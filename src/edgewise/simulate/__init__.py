"""``edgewise simulate``: routing strategies and failures against the physical limit.

The same topology and Application are routed four ways (``flat``, ``prefer-close``,
``namespace-per-zone`` and what ``edgewise plan`` generates); requests are sampled
through the shared route resolver's tiers under every single failure, and measured per
user zone against the best routing the network allows and against fibre at the speed of
light.
"""

from typing import TYPE_CHECKING, Any

from .plot import plot
from .render import headline, render, render_table
from .result import Metrics, ScenarioResult, SimulationResult, StrategyResult
from .scenarios import Scenario
from .strategies import STRATEGY_NAMES

if TYPE_CHECKING:
    from .api import pick_application, simulate


def __getattr__(name: str) -> Any:
    # the engine needs numpy, which costs ~0.1 s to import: load it only when simulating
    if name in ("simulate", "pick_application"):
        from . import api

        return getattr(api, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = [
    "STRATEGY_NAMES",
    "Metrics",
    "Scenario",
    "ScenarioResult",
    "SimulationResult",
    "StrategyResult",
    "headline",
    "pick_application",
    "plot",
    "render",
    "render_table",
    "simulate",
]
