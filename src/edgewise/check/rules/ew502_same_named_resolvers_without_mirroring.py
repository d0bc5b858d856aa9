"""EW502: same-named ServiceResolvers in several namespaces without namespace mirroring."""

from __future__ import annotations

from collections.abc import Iterator

from ..model import CheckContext, Finding, Rule, Severity
from ._common import SEED_LZ


class SameNamedResolversWithoutMirroring(Rule):
    id = "EW502"
    name = "same-named-resolvers-without-mirroring"
    severity = Severity.ERROR
    summary = "Same-named ServiceResolvers in several namespaces need Consul namespace mirroring."
    rationale = (
        f"{SEED_LZ} relies on mirroring Kubernetes namespaces to Consul namespaces; "
        "without it config entries are global and the consul-k8s webhook rejects a second "
        "resolver of the same name (DESIGN §2)."
    )
    fix = (
        "enable connectInject.consulNamespaces.mirroringK8S (Enterprise), or use per-zone "
        "service names with one resolver each"
    )

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        if ctx.consul_mirroring():
            return
        by_name: dict[str, list[str]] = {}
        for o in ctx.of_kind("ServiceResolver"):
            by_name.setdefault(o.name, []).append(o.namespace)
        for o in ctx.of_kind("ServiceResolver"):
            spaces = sorted(set(by_name[o.name]))
            if len(spaces) > 1 and o.namespace != spaces[0]:
                yield ctx.finding(
                    self,
                    o,
                    f"ServiceResolver {o.name!r} also exists in namespace(s) "
                    f"{', '.join(s for s in spaces if s != o.namespace)} and namespace "
                    "mirroring is off: only one is accepted",
                    path=("metadata", "name"),
                )
