"""EW114: eksctl node groups that name two different Outposts by outpostARN."""

from __future__ import annotations

from collections.abc import Iterator

from ..model import CheckContext, Finding, Rule, Severity
from ._common import SEED_OP, m, seq


class NodeGroupsOnTwoOutposts(Rule):
    id = "EW114"
    name = "nodegroups-on-two-outposts"
    severity = Severity.ERROR
    summary = "Pin Outpost node groups by their Outpost subnet, not by outpostARNs of two different Outposts."
    rationale = (
        "eksctl v0.215.0 refuses the whole config: ValidateClusterConfig returns 'cannot create "
        "nodegroups in two different Outposts' when node groups carry outpostARNs of two Outposts "
        "(pkg/apis/eksctl.io/v1alpha5/validation.go, https://github.com/eksctl-io/eksctl). "
        f"{SEED_OP} creates one self-managed node group per Outpost subnet and names only the "
        "subnet: the subnet already places the nodes on its Outpost."
    )
    fix = "remove outpostARN from the node groups; give each one its Outpost subnet under 'subnets'"

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        for cfg in ctx.cluster_configs:
            first: str | None = None
            for i, ng in enumerate(seq(cfg.body.get("nodeGroups"))):
                arn = m(ng).get("outpostARN")
                if not isinstance(arn, str) or not arn:
                    continue
                if first is None:
                    first = arn
                elif arn != first:
                    yield ctx.finding(
                        self,
                        cfg,
                        f"node group {m(ng).get('name')!r} names Outpost {arn.rsplit('/', 1)[-1]}, another node "
                        f"group Outpost {first.rsplit('/', 1)[-1]}: eksctl rejects the config",
                        path=("nodeGroups", i, "outpostARN"),
                    )
