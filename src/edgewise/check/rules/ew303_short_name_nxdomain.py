"""EW303: a called name does not exist from the caller's namespace."""

from __future__ import annotations

from collections.abc import Iterator

from ..model import CheckContext, Finding, Rule, Severity
from ._common import SEED_LZ, caller_object


class ShortNameNxdomain(Rule):
    id = "EW303"
    name = "short-name-nxdomain"
    severity = Severity.ERROR
    summary = "A called DNS name does not resolve in the caller's namespace (NXDOMAIN)."
    rationale = (
        f"{SEED_LZ}: with a namespace per zone, 'when a product-api pod seeks to connect "
        "to the postgres data referencing the namespace-agnostic FQDN (e.g., postgres "
        "...)' the name does not exist in the zone's namespace. Kube DNS resolves a short "
        "name only in the caller's own namespace."
    )
    fix = (
        "call the Region service by name.namespace (or its FQDN), or add an ExternalName "
        "alias / mesh redirect in the zone's namespace"
    )

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        for group in ctx.call_groups.values():
            rc = group[0]
            if rc.resolution.found:
                continue
            yield ctx.finding(
                self,
                caller_object(ctx, rc),
                (
                    f"{rc.call.name!r} ({rc.call.evidence}) does not resolve from namespace "
                    f"{rc.call.namespace}: " + "; ".join(rc.resolution.notes)
                ),
                path=rc.call.path,
            )
