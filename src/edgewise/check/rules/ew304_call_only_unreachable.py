"""EW304: every endpoint a call can reach is unreachable (or there is none)."""

from __future__ import annotations

from collections.abc import Iterator

from ..model import CheckContext, Finding, Rule, Severity
from ._common import SEED_LZ, any_reachable, caller_object


class CallOnlyUnreachable(Rule):
    id = "EW304"
    name = "call-only-unreachable"
    severity = Severity.ERROR
    summary = "From some zone, a call has no reachable endpoint in any tier: it always fails."
    rationale = (
        f"{SEED_LZ}: edge zones 'can only communicate within their zone itself or back "
        "to the hub (i.e., Parent Region)'. A caller whose callee runs only in other edge "
        "zones, or nowhere it can reach, fails every request."
    )
    fix = "run a copy of the callee in the caller's zone or in the Region"

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        if ctx.topology is None:
            return
        for group in ctx.call_groups.values():
            bad: dict[str, str] = {}
            for rc in group:
                res = rc.resolution
                if not res.found or res.external:
                    continue
                if (res.service is not None and not res.service.selector and not res.target.startswith("consul:")
                        and not res.endpoints):
                    continue  # endpoints managed elsewhere and no EndpointSlice among the inputs: unknown
                if not any_reachable(ctx, rc.caller.zone, res):
                    zones = sorted({e.zone for e in res.endpoints})
                    bad[rc.caller.zone] = ", ".join(zones) if zones else "no endpoints at all"
            if bad:
                rc = group[0]
                items = sorted(bad.items())
                detail = "; ".join(f"from {z}: {v}" for z, v in items[:5])
                if len(items) > 5:
                    detail += f"; and from {len(items) - 5} more zone(s)"
                yield ctx.finding(
                    self,
                    caller_object(ctx, rc),
                    (
                        f"calls to {rc.call.name!r} ({rc.call.evidence}, -> {rc.resolution.target}) "
                        f"have no reachable endpoint: {detail}"
                    ),
                    path=rc.call.path,
                )
