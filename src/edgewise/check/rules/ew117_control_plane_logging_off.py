"""EW117: no control-plane audit or authenticator logs."""

from __future__ import annotations

from collections.abc import Iterator

from ..model import CheckContext, Finding, Rule, Severity
from ._common import m, seq

WANTED = ("audit", "authenticator")


class ControlPlaneLoggingOff(Rule):
    id = "EW117"
    name = "control-plane-logging-off"
    severity = Severity.WARNING
    summary = "Send the control plane's audit and authenticator logs to CloudWatch (cloudWatch.clusterLogging)."
    rationale = (
        "EKS control-plane logs are off by default; without the audit and authenticator logs there "
        "is no record of who did what to the cluster "
        "(https://docs.aws.amazon.com/eks/latest/userguide/control-plane-logs.html). They are "
        "cheap next to the api log; eksctl enables them with cloudWatch.clusterLogging.enableTypes "
        "(https://docs.aws.amazon.com/eks/latest/eksctl/cloudwatch-cluster-logging.html)."
    )
    fix = "add cloudWatch: {clusterLogging: {enableTypes: [audit, authenticator], logRetentionInDays: 30}}"

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        for cfg in ctx.cluster_configs:
            types = {str(t) for t in seq(m(m(cfg.body.get("cloudWatch")).get("clusterLogging")).get("enableTypes"))}
            if types & {"*", "all"}:
                continue
            missing = [t for t in WANTED if t not in types]
            if missing:
                yield ctx.finding(
                    self, cfg, "control-plane logs off: " + ", ".join(missing), path=("metadata",)
                )
