"""EW503: resolver failover without passive health checks on the upstream."""

from __future__ import annotations

from collections.abc import Iterator

from ..model import CheckContext, Finding, Rule, Severity
from ._common import SEED_LZ, m, seq


class FailoverWithoutPassiveHealthCheck(Rule):
    id = "EW503"
    name = "failover-without-passive-health-check"
    severity = Severity.WARNING
    summary = "Consul failover is health-driven: add passive health checks for the upstream."
    rationale = (
        f"{SEED_LZ}: failover happens when the zone's copy is gone; Consul docs "
        "(ServiceDefaults upstreamConfig.passiveHealthCheck): without outlier detection "
        "Envoy keeps sending to failing but registered instances."
    )
    fix = "ServiceDefaults spec.upstreamConfig.defaults.passiveHealthCheck {interval, maxFailures}"

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        covered_all = False
        covered: set[str] = set()
        for o in ctx.of_kind("ServiceDefaults", "ProxyDefaults"):
            up = m(o.spec.get("upstreamConfig"))
            if m(up.get("defaults")).get("passiveHealthCheck"):
                covered_all = True
            for ov in seq(up.get("overrides")):
                if m(ov).get("passiveHealthCheck"):
                    covered.add(str(m(ov).get("name")))
        if covered_all:
            return
        for o in ctx.of_kind("ServiceResolver"):
            if o.spec.get("failover") and o.name not in covered:
                yield ctx.finding(
                    self,
                    o,
                    f"ServiceResolver {o.namespace}/{o.name} fails over, "
                    "but no ServiceDefaults configures passiveHealthCheck for it",
                    path=("spec", "failover"),
                )
