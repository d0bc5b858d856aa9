"""EW403: an Ingress backend Service missing from the Ingress's namespace."""

from __future__ import annotations

from collections.abc import Iterator

from ..model import CheckContext, Finding, Rule, Severity
from ._common import SEED_WLZ, ingress_backends


class IngressBackendMissing(Rule):
    id = "EW403"
    name = "ingress-backend-missing"
    severity = Severity.ERROR
    summary = "Each zone's Ingress must find its backend Service in its own namespace."
    rationale = (
        f"{SEED_WLZ}: each zone's namespace holds its own copy of the services; an "
        "Ingress can only reference Services of its own namespace, so a per-zone Ingress "
        "whose backend lives elsewhere serves 503s."
    )
    fix = "create the backend Service in the Ingress's namespace (the zone's copy)"

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        for ing in ctx.of_kind("Ingress"):
            for name, path in ingress_backends(ing):
                if ctx.inventory.service(ing.namespace, name) is None:
                    yield ctx.finding(
                        self, ing, f"backend Service {name!r} does not exist in namespace {ing.namespace}", path=path
                    )
