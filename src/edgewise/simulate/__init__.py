"""``edgewise simulate``: routing strategies and failures against the physical limit.

The same topology and Application are routed four ways (``flat``, ``prefer-close``,
``namespace-per-zone`` and what ``edgewise plan`` generates); requests are sampled
through the shared route resolver's tiers under every single failure, and measured per
user zone against the best routing the network allows and against fibre at the speed of
light.
"""

from typing import TYPE_CHECKING

from .. import _lazy

if TYPE_CHECKING:
    from .api import pick_application, simulate
    from .plot import plot
    from .render import headline, render, render_table
    from .result import Metrics, ScenarioResult, SimulationResult, StrategyResult
    from .scenarios import Scenario
    from .strategies import STRATEGY_NAMES

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

# Loaded on first use: the engine needs numpy and the tables need rich, which together
# cost ~0.1 s at start-up -- `plan` without simulation and `check` need neither.
__getattr__, __dir__ = _lazy.attach(__name__, {
    "pick_application": ".api", "simulate": ".api", "plot": ".plot", "headline": ".render", "render": ".render",
    "render_table": ".render", "Metrics": ".result", "ScenarioResult": ".result", "SimulationResult": ".result",
    "StrategyResult": ".result", "Scenario": ".scenarios", "STRATEGY_NAMES": ".strategies",
})
