"""EW507: Istio outlier detection that cannot eject a whole zone."""

from __future__ import annotations

from collections.abc import Iterator

from ..model import CheckContext, Finding, Rule, Severity
from ._common import m

DEFAULT_MAX_EJECTION = 10  # Istio's default maxEjectionPercent


class IstioMaxEjectionBelow100(Rule):
    id = "EW507"
    name = "istio-max-ejection-below-100"
    severity = Severity.WARNING
    summary = "With locality failover, maxEjectionPercent must be 100 to leave a failed zone."
    rationale = (
        "Istio docs, OutlierDetection.maxEjectionPercent defaults to 10%: when all of a "
        "small edge zone's pods fail, most stay in the pool and failover to the Region "
        "never fully happens (DESIGN §2). Envoy ejects a host only while the ejected share "
        "stays within the limit, and since 1.31 no longer ejects one host regardless unless "
        "always_eject_one_host is set (https://www.envoyproxy.io/docs/envoy/latest/api-v3/"
        "config/cluster/v3/outlier_detection.proto): with fewer than ten hosts it ejects "
        "none. Reproduced on istiod 1.29.1 and Envoy 1.40 (docs/istio-lab.md): two failed "
        "copies of an edge zone kept every request."
    )
    fix = "set outlierDetection.maxEjectionPercent: 100"

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        for o in ctx.of_kind("DestinationRule"):
            tp = m(o.spec.get("trafficPolicy"))
            od = m(tp.get("outlierDetection"))
            if not od or not m(tp.get("loadBalancer")).get("localityLbSetting"):
                continue
            pct = od.get("maxEjectionPercent", DEFAULT_MAX_EJECTION)
            if not isinstance(pct, int) or pct < 100:
                yield ctx.finding(
                    self,
                    o,
                    f"maxEjectionPercent is {pct}: a failed edge zone is only partly ejected",
                    path=("spec", "trafficPolicy", "outlierDetection"),
                )
