"""EW307: a caller in an edge zone calls the Region's ``<svc>`` although its zone has ``<svc>-<zone>``."""

from __future__ import annotations

from collections.abc import Iterator

from ...routing import parse_host
from ...routing.resolver import split_cluster_name
from ...spec.names import zone_copy_name
from ..model import CheckContext, Finding, RoutedCall, Rule, Severity
from ._common import SEED_LZ, caller_object, shorten


class EdgeCallerSkipsZoneCopy(Rule):
    id = "EW307"
    name = "edge-caller-skips-zone-copy"
    severity = Severity.WARNING
    summary = (
        "A caller in an edge zone calls the Region's Service <svc> although its own zone has "
        "the copy <svc>-<zone>."
    )
    rationale = (
        "Where every zone's copy shares one namespace (routing istio), the Region's Service is "
        "<svc> and a zone's copy is <svc>-<zone slug>; a name resolves to the Service of that name "
        "(https://kubernetes.io/docs/concepts/services-networking/dns-pod-service/), and Istio's "
        "locality priorities order the endpoints of that one host only "
        "(https://istio.io/latest/docs/reference/config/networking/destination-rule/#LocalityLoadBalancerSetting). "
        "So a zone's caller that calls <svc> is always served by the Region: the call works, but "
        "every request crosses the service link, the zone's own copy is skipped and the edge's "
        f"latency advantage is lost; and as {SEED_LZ} puts it, edge zones 'can only communicate "
        "within their zone itself or back to the hub (i.e., Parent Region)', so when that link is "
        "down the call fails although the zone's copy is healthy."
    )
    fix = (
        "call the zone's copy <svc>-<zone slug> from the zone's callers (in edgewise.dev/calls and in "
        "the configuration that names the host); it holds the zone's pods and fails over to the Region"
    )

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        if ctx.topology is None:
            return
        for group in ctx.call_groups.values():
            instead: dict[str, str] = {}  # caller zone -> the name to call there
            for rc in group:
                name = _zone_copy_instead(ctx, rc)
                if name is not None:
                    instead[rc.caller.zone] = name
            if not instead:
                continue
            rc = group[0]
            caller = f"{rc.call.kind} {rc.call.namespace}/{rc.call.workload}"
            target = next(r.resolution.target for r in group if r.caller.zone in instead)
            zones = sorted(instead)
            if len(set(instead.values())) == 1:
                advice = f"call {instead[zones[0]]!r} instead"
            else:
                advice = "call instead " + "; ".join(shorten([f"from {z}: {instead[z]!r}" for z in zones], 5))
            yield ctx.finding(
                self,
                caller_object(ctx, rc),
                (
                    f"{caller} in {', '.join(shorten(zones, 5))} calls {rc.call.name!r} ({rc.call.evidence}), "
                    f"the Region's Service {target}, although its zone has its own copy: every call leaves "
                    f"the zone, and fails while the Region is out of reach; {advice}"
                ),
                path=rc.call.path,
            )


def _zone_copy_instead(ctx: CheckContext, rc: RoutedCall) -> str | None:
    """The name ``rc``'s caller should call instead: the zone's copy ``<svc>-<zone slug>`` of
    the Service the call lands on, when the call (as the route resolver resolves it) has no
    endpoint in the caller's edge zone while everything is healthy, and that name (resolved
    the same way) has the zone's own pods first and no endpoint the zone cannot reach."""
    zone = ctx.zone(rc.caller.zone)
    res = rc.resolution
    svc = res.service
    if zone is None or not zone.is_edge or svc is None or not res.found or res.external:
        return None
    if res.target.startswith("consul:") or not res.tiers or not res.tiers[0].endpoints:
        return None  # Consul names its own services; no endpoints: other rules say so
    if any(e.zone == zone.name for e in res.tiers[0].endpoints):
        return None  # the zone's own pods serve it
    copy = zone_copy_name(svc.name, zone.slug)
    if ctx.inventory.service(svc.namespace, copy) is None:
        return None
    host = parse_host(rc.call.name)[0]
    first, _, rest = host.partition(".")
    if first == svc.name and split_cluster_name(host, rc.call.namespace) == (svc.name, svc.namespace):
        name = f"{copy}.{rest}" if rest else copy  # the same form, the zone's copy
    else:  # reached through an alias: name the copy from the caller's namespace
        name = copy if rc.call.namespace == svc.namespace else f"{copy}.{svc.namespace}"
    assert ctx.resolver is not None and ctx.topology is not None
    alt = ctx.resolver.resolve(rc.caller, name, via=rc.call.via)
    if not alt.found or not alt.tiers or not any(e.zone == zone.name for e in alt.tiers[0].endpoints):
        return None
    if not all(ctx.topology.reachable(zone.name, e.zone) for e in alt.endpoints):
        return None  # calling it would trade this for an unreachable endpoint (EW301)
    return name
