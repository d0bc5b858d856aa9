"""EW506: Istio locality failover configured without outlierDetection."""

from __future__ import annotations

from collections.abc import Iterator

from ..model import CheckContext, Finding, Rule, Severity
from ._common import m


class IstioFailoverWithoutOutlierDetection(Rule):
    id = "EW506"
    name = "istio-failover-without-outlier-detection"
    severity = Severity.ERROR
    summary = "Istio locality failover silently does nothing without outlierDetection."
    rationale = (
        "Istio docs, 'Locality failover': 'outlier detection must be configured for "
        "locality failover to function'; without it endpoints are load-balanced "
        "uniformly, across unreachable edge zones too (DESIGN §2)."
    )
    fix = "add trafficPolicy.outlierDetection (consecutive5xxErrors, interval, maxEjectionPercent: 100)"

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        for o in ctx.of_kind("DestinationRule"):
            tp = m(o.spec.get("trafficPolicy"))
            lb = m(m(tp.get("loadBalancer")).get("localityLbSetting"))
            if lb and lb.get("enabled") is not False and not tp.get("outlierDetection"):
                yield ctx.finding(
                    self,
                    o,
                    f"DestinationRule {o.namespace}/{o.name} sets "
                    "localityLbSetting without outlierDetection: no failover happens",
                    path=("spec", "trafficPolicy", "loadBalancer", "localityLbSetting"),
                )
