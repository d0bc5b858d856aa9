"""EW501: Consul Enterprise-only fields (namespaces) with Consul CE."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from ..model import CheckContext, Finding, Rule, Severity
from ._common import SEED_LZ


def _namespace_paths(value: Any, path: tuple[str | int, ...]) -> Iterator[tuple[str | int, ...]]:
    if isinstance(value, Mapping):
        for k, v in value.items():
            if k == "namespace" and v:
                yield (*path, k)
            else:
                yield from _namespace_paths(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _namespace_paths(v, (*path, i))


class ConsulEnterpriseFieldsOnCe(Rule):
    id = "EW501"
    name = "consul-enterprise-fields-on-ce"
    severity = Severity.ERROR
    summary = "redirect/failover/intention namespaces need Consul Enterprise; CE rejects them."
    rationale = (
        f"{SEED_LZ} mirrors Kubernetes namespaces to Consul namespaces, an Enterprise "
        "feature; Consul CE rejects redirect.namespace / failover.namespace (DESIGN §2)."
    )
    fix = (
        "with CE use per-zone service names (consul.hashicorp.com/connect-service: "
        "<svc>-<zone>) and failover to the Region service by name"
    )

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        if ctx.consul_is_ce() is not True:
            return
        for o in ctx.of_kind("ServiceResolver", "ServiceIntentions", "ServiceRouter", "ServiceSplitter"):
            for path in _namespace_paths(o.spec, ("spec",)):
                yield ctx.finding(
                    self, o, f"{o.kind} {o.name} sets {'.'.join(map(str, path))}, which Consul CE rejects", path=path
                )
