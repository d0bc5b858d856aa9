"""EW505: Consul locality prioritization, which treats all edge zones as one Region."""

from __future__ import annotations

from collections.abc import Iterator

from ..model import CheckContext, Finding, Rule, Severity
from ._common import SEED_LZ


class LocalityPriorityEnabled(Rule):
    id = "EW505"
    name = "locality-priority-enabled"
    severity = Severity.WARNING
    summary = "prioritizeByLocality falls back to any zone of the Region, edge zones included."
    rationale = (
        f"{SEED_LZ}: edge zones carry the parent Region's locality; Consul's "
        "prioritizeByLocality/order-by-locality prefers the same zone, then the rest of "
        "the Region, which includes unreachable sibling edge zones (DESIGN §2)."
    )
    fix = "use explicit resolver failover to the Region service instead"

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        for o in ctx.of_kind("ServiceResolver", "ProxyDefaults", "ServiceDefaults"):
            if o.spec.get("prioritizeByLocality"):
                yield ctx.finding(
                    self, o, f"{o.kind} {o.name} enables prioritizeByLocality", path=("spec", "prioritizeByLocality")
                )
