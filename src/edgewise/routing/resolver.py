"""The one route resolver ``check`` and ``simulate`` share (DESIGN §3.5).

Given a caller (zone, namespace, workload) and a name it calls, return the endpoints a
request may land on, in priority tiers, under the mechanism in force:

* kube DNS + kube-proxy: one tier of every endpoint, whatever its zone;
* a selectorless Service handed to the edgewise controller (``edgewise.dev/endpoints:
  edge-failover``): its zone's pods, then the Region's (then sibling Outposts over the
  local gateways with outpostIntraVpc), never an unreachable zone's;
* ``trafficDistribution: PreferClose``/``PreferSameZone`` or topology-aware hints:
  same-zone endpoints, then **all endpoints cluster-wide** (the fallback that reaches
  sibling edge zones); ``internalTrafficPolicy: Local``: same zone only, no fallback;
* Consul discovery chain: the service's resolver (redirect, subsets, ONE level of
  failover, optional locality priority);
* Istio locality load balancing: ``failoverPriority`` labels order endpoints of one host,
  but only when ``outlierDetection`` is configured.

Reachability is deliberately *not* part of a resolution: the network does not stop
kube-proxy from choosing a Ready pod in an unreachable zone. Callers judge reachability
with :meth:`Topology.reachable`.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Sequence
from dataclasses import field
from functools import cached_property

from .._frozen import record
from ..k8s.inventory import Inventory, KObject, Service, Workload
from ..k8s.inventory import as_list as _list
from ..k8s.inventory import as_map as _map
from ..plan import endpoints as E
from ..plan.labels import K8S_ZONE_LABEL, LEGACY_ZONE_LABEL, ZONE_LABEL
from ..spec import ZoneType
from ..topology import Topology
from .calls import Call, infer_calls, parse_host

__all__ = [
    "Caller",
    "Endpoint",
    "Resolution",
    "RouteResolver",
    "Tier",
    "split_cluster_name",
]

CLUSTER_DOMAIN = "cluster.local"
TPROXY = "consul.hashicorp.com/transparent-proxy"
ISTIO_INJECT = "sidecar.istio.io/inject"
_MAX_HOPS = 5
SERVICE_NAME_LABEL = "kubernetes.io/service-name"
#: the first item of a tuple (a sort key made in C)
_first = operator.itemgetter(0)


@record
class Caller:
    zone: str  # topology zone name where the calling pod runs
    namespace: str
    workload: str  # calling workload name (Deployment name)


@record
class Endpoint:
    zone: str  # topology zone name where these pods run
    namespace: str
    workload: str
    service: str  # the Service / mesh service name that selected it
    weight: float  # relative share inside its tier (replicas in that zone)


@record
class Tier:
    endpoints: tuple[Endpoint, ...]
    mechanism: str  # kube-proxy | topology-hints | topology-hints-fallback | consul | ...


@record
class Resolution:
    caller: Caller
    name: str  # the name as called
    found: bool  # False: NXDOMAIN from the caller's namespace
    tiers: tuple[Tier, ...]  # tier i is used only when NO endpoint of tiers < i is healthy
    notes: tuple[str, ...]  # each step, in words
    target: str = ""  # "namespace/service" (Kubernetes) or "consul:namespace/service"
    external: str = ""  # a name outside the cluster (ExternalName to the internet, ...)
    service: Service | None = field(default=None, compare=False, repr=False)

    def effective(self, healthy: Callable[[Endpoint], bool]) -> tuple[Endpoint, ...]:
        """Endpoints requests are spread over (by weight) given health: the healthy
        endpoints of the first tier that has any. Reachability is NOT health: a pod in an
        unreachable sibling zone is Ready, so kube-proxy still picks it and the request
        fails; callers decide reachability with Topology.reachable(caller.zone, e.zone).
        """
        for tier in self.tiers:
            alive = tuple(e for e in tier.endpoints if healthy(e))
            if alive:
                return alive
        return ()

    @property
    def endpoints(self) -> tuple[Endpoint, ...]:
        """All endpoints of all tiers (duplicates across tiers kept once)."""
        seen: dict[tuple[str, str, str, str], Endpoint] = {}
        for t in self.tiers:
            for e in t.endpoints:
                seen.setdefault((e.zone, e.namespace, e.workload, e.service), e)
        return tuple(seen.values())


def split_cluster_name(host: str, caller_ns: str) -> tuple[str, str] | None:
    """Kube DNS: ``name`` / ``name.ns`` / ``name.ns.svc[.cluster.local]`` -> (name, ns).

    None when the name cannot be a Service name (more labels, not ``svc``).
    """
    labels = host.split(".")
    if labels[-2:] == CLUSTER_DOMAIN.split("."):
        labels = labels[:-2]
    if len(labels) == 3 and labels[2] == "svc":
        labels = labels[:2]
    if len(labels) == 1:
        return labels[0], caller_ns
    if len(labels) == 2:
        return labels[0], labels[1]
    return None


class RouteResolver:
    """Resolve names for callers; one instance per inventory (results are cached)."""

    def __init__(self, inventory: Inventory, topology: Topology) -> None:
        self.inventory = inventory
        self.topology = topology
        self._cache: dict[tuple[Caller, str, str], Resolution] = {}
        self._managed_cache: dict[tuple[str, str], tuple[tuple[Tier, ...], str]] = {}
        self._endpoints_cache: dict[tuple[str, str, str | None], list[Endpoint]] = {}
        self._cluster_labels: dict[tuple[str, str], list[Workload]] | None = None
        self._selected: dict[tuple[tuple[str, str], ...], dict[str, list[tuple[int, Endpoint]]]] = {}
        #: each selector annotation's pairs, or why it is refused (every zone's copy of a
        #: service carries the same one)
        self._selectors: dict[str, tuple[tuple[str, str], ...] | str] = {}
        #: a selector's endpoints in one zone at one tier, named after a Service, each with
        #: its position (the same for the copy of that service in every zone that reaches
        #: the zone the same way: the Region's AZs from every edge zone)
        self._named: dict[tuple[tuple[tuple[str, str], ...], str, str, int], list[tuple[int, int, Endpoint]]] = {}
        #: zones an edge zone may reach besides itself: the Region's AZs and the Outposts
        self._hub_zones = tuple(z.name for z in topology.zones if not z.is_edge or z.kind is ZoneType.OUTPOST)
        #: each topology zone's topology.kubernetes.io/zone (asked for every endpoint of every call)
        self._k8s_zones = {z.name: z.k8s_zone for z in topology.zones}
        self._mirroring = inventory.consul_mirroring()
        self._resolvers: dict[tuple[str, str], KObject] = {}
        for o in inventory.of_kind("ServiceResolver"):
            ns = o.namespace if self._mirroring else "default"
            self._resolvers.setdefault((ns, o.name), o)
        self._drs: dict[tuple[str, str], KObject] = {}
        for o in inventory.of_kind("DestinationRule"):
            host = str(o.spec.get("host") or "")
            parts = split_cluster_name(host.lower(), o.namespace)
            if parts is not None:
                self._drs.setdefault(parts, o)

    # -- calls ------------------------------------------------------------------------
    @cached_property
    def _calls(self) -> Sequence[Call]:
        return infer_calls(self.inventory)

    def calls(self) -> Sequence[Call]:
        """Every call inferred from the inventory (see :mod:`edgewise.routing.calls`)."""
        return self._calls

    def callers_of(self, namespace: str, service: str) -> list[Call]:
        """Calls whose name resolves (from the caller's namespace) to ``namespace/service``."""
        out = []
        for c in self._calls:
            host = parse_host(c.name)[0]
            parts = split_cluster_name(host, c.namespace)
            if parts == (service, namespace):
                out.append(c)
        return out

    def callers(self, call: Call) -> list[Caller]:
        """One :class:`Caller` per zone the calling workload can run in."""
        w = self.inventory.workload_by_name(call.namespace, call.workload)
        zones = w.zones if w is not None else ()
        return [Caller(z, call.namespace, call.workload) for z in zones]

    # -- resolution -------------------------------------------------------------------
    def resolve(self, caller: Caller, name: str, *, via: str = "dns") -> Resolution:
        """Resolve ``name`` for ``caller``; ``via="consul"`` for an explicit upstream."""
        key = (caller, name, via)
        hit = self._cache.get(key)
        if hit is None:
            hit = self._resolve(caller, name, via)
            self._cache[key] = hit
        return hit

    def _resolve(self, caller: Caller, name: str, via: str) -> Resolution:
        host, _port = parse_host(name)
        notes: list[str] = []
        caller_w = self.inventory.workload_by_name(caller.namespace, caller.workload)
        tproxy = caller_w is not None and caller_w.connect_injected and self._tproxy(caller_w)
        no_sidecar = caller_w is not None and "false" in (
            caller_w.pod_annotations.get(ISTIO_INJECT, "").lower(),
            caller_w.pod_labels.get(ISTIO_INJECT, "").lower(),
        )
        if via == "consul":
            labels = host.split(".")
            cns = labels[1] if len(labels) > 1 else self._consul_ns(caller.namespace)
            notes.append(f"Consul upstream {labels[0]} in Consul namespace {cns}")
            return self._consul(caller, name, labels[0], cns, None, notes)
        namespace = caller.namespace
        for _ in range(_MAX_HOPS):
            parts = split_cluster_name(host, namespace)
            svc = self.inventory.service(parts[1], parts[0]) if parts else None
            if svc is None:
                if parts is not None and "." not in host:
                    notes.append(
                        f"{host}.{namespace}.svc.{CLUSTER_DOMAIN}: no Service "
                        f"{host!r} in namespace {namespace} (NXDOMAIN)"
                    )
                    elsewhere = sorted(s.namespace for s in self.inventory.services_named(host))
                    if elsewhere:
                        notes.append(
                            f"a Service {host!r} exists in namespace(s) "
                            + ", ".join(elsewhere)
                            + "; short names resolve only in "
                            "the caller's own namespace"
                        )
                    return Resolution(caller, name, False, (), tuple(notes))
                if parts is not None and parts[1] in self.inventory.namespaces():
                    notes.append(f"no Service {parts[0]!r} in namespace {parts[1]} (NXDOMAIN)")
                    return Resolution(caller, name, False, (), tuple(notes))
                notes.append(f"{host} is not a Service of this cluster: resolved outside it")
                return Resolution(caller, name, True, (), tuple(notes), external=host)
            notes.append(f"{host} -> Service {svc.namespace}/{svc.name}")
            if svc.type == "ExternalName":
                target = svc.external_name.lower().rstrip(".")
                notes.append(f"ExternalName alias to {target}")
                host, namespace = target, svc.namespace
                continue
            if tproxy and self._consul_backed(svc):
                cname = self._service_consul_name(svc)
                cns = self._consul_ns(svc.namespace)
                notes.append(f"transparent proxy: routed by Consul as service {cname} (Consul namespace {cns})")
                return self._consul(caller, name, cname, cns, svc, notes)
            dr = self._drs.get((svc.name, svc.namespace))
            if dr is not None and not no_sidecar:
                return self._istio(caller, name, svc, dr, notes)
            if dr is not None:
                notes.append("the caller has no Istio sidecar: the DestinationRule does not apply")
            return self._kube(caller, name, svc, notes)
        notes.append("too many ExternalName hops")
        return Resolution(caller, name, False, (), tuple(notes))

    # -- Kubernetes ---------------------------------------------------------------------
    def service_endpoints(self, svc: Service) -> list[Endpoint]:
        """Every endpoint ``svc`` selects, zone by zone (what its EndpointSlices hold on
        a real cluster; ``edgewise verify`` and the lab tests compare the two)."""
        return self._service_endpoints(svc)

    def _service_endpoints(self, svc: Service, label: str | None = None) -> list[Endpoint]:
        if not svc.selector:
            return self._manual_endpoints(svc, label or svc.name)
        key = (svc.namespace, svc.name, label)
        found = self._endpoints_cache.get(key)
        if found is None:  # the same for every caller: computed once per Service
            found = []
            for w in self.inventory.select(svc):
                if _serves_a_port(svc, w):
                    found.extend(self._workload_endpoints(w, label or svc.name))
            self._endpoints_cache[key] = found
        return list(found)

    def _manual_endpoints(self, svc: Service, service: str) -> list[Endpoint]:
        """A selectorless Service's endpoints: the EndpointSlices among the manifests
        that name it (label ``kubernetes.io/service-name``), ready endpoints only, each
        in the topology zone whose Kubernetes zone its ``zone`` names."""
        by_k8s: dict[str, str] = {}
        for z in self.topology.zones:
            by_k8s.setdefault(z.k8s_zone, z.name)  # Region AZs come first: an Outpost anchor maps to its AZ
        out = []
        for o in self.inventory.of_kind("EndpointSlice"):
            if o.namespace != svc.namespace or o.labels.get("kubernetes.io/service-name") != svc.name:
                continue
            for e in _list(o.body.get("endpoints")):
                e = _map(e)
                if _map(e.get("conditions")).get("ready") is False:
                    continue
                zone = by_k8s.get(str(e.get("zone") or ""))
                if zone is not None:
                    out.append(Endpoint(zone, svc.namespace, o.name, service, 1.0))
        return out

    def _workload_endpoints(self, w: Workload, service: str) -> list[Endpoint]:
        return [Endpoint(z, w.namespace, w.name, service, w.replicas_in(z)) for z in w.zones if w.replicas_in(z) > 0]

    def _k8s_zone(self, zone: str) -> str:
        return self._k8s_zones.get(zone, zone)

    def _managed(self, caller: Caller, name: str, svc: Service, notes: list[str]) -> Resolution:
        """A Service whose EndpointSlice the edgewise controller keeps (plan.endpoints):
        the Service's zone's pods, else the Region's, else (Outposts with intra-VPC) the
        other Outposts'; pods in zones its zone cannot reach are never endpoints."""
        target = f"{svc.namespace}/{svc.name}"
        key = (svc.namespace, svc.name)
        found = self._managed_cache.get(key)
        if found is None:
            found = self._managed_cache[key] = self._managed_tiers(svc)
        tiers, note = found
        notes.append(note)
        return Resolution(caller, name, True, tiers, tuple(notes), target=target, service=svc)

    def _managed_tiers(self, svc: Service) -> tuple[tuple[Tier, ...], str]:
        """The tiers of a controller-kept Service and the note that explains them; the
        same for every caller, so computed once per Service."""
        zone = svc.obj.annotations.get(E.ZONE_ANNOTATION, "")
        text = svc.obj.annotations.get(E.SELECTOR_ANNOTATION, "")
        sel = self._selectors.get(text)
        if sel is None:
            try:
                sel = E.parse_selector(text)
            except ValueError as exc:
                sel = str(exc)
            self._selectors[text] = sel
        if isinstance(sel, str):
            return (), f"edgewise controller annotation {E.SELECTOR_ANNOTATION}: {sel}; no endpoints"
        by_zone = self._selected_endpoints(sel)
        topo = self.topology
        if not topo.has_zone(zone):
            candidates = [zone] if zone in by_zone else []
        elif topo.zone(zone).is_edge:
            # an edge zone reaches itself, the Region's AZs and (Outposts with intra-VPC
            # traffic) other Outposts, never another Local or Wavelength Zone: only those
            # zones' pods can be endpoints, and Topology.link still decides each tier
            candidates = [z for z in dict.fromkeys((zone, *self._hub_zones)) if z in by_zone]
        else:
            candidates = list(by_zone)
        picked: list[tuple[int, int, Endpoint]] = []
        known = topo.has_zone(zone)
        for z in candidates:
            # the link decides where both zones are known; else only the zone itself serves
            tier = E.tier_of(topo.link(zone, z)) if known and topo.has_zone(z) else (0 if z == zone else None)
            if tier is not None:
                name = svc.name
                named = self._named.get((sel, name, z, tier))
                if named is None:
                    named = self._named[(sel, name, z, tier)] = [
                        (pos, tier, Endpoint(e.zone, e.namespace, e.workload, name, e.weight))
                        for pos, e in by_zone[z]]
                picked += named
        picked.sort(key=_first)  # the order of the workloads, then of their zones
        buckets: dict[int, list[Endpoint]] = {}
        for _pos, tier, e in picked:
            buckets.setdefault(tier, []).append(e)
        note = (
            f"endpoints kept by the edgewise controller for zone {zone}: its Ready pods, else the "
            "Region's" + (", else the other Outposts'" if 2 in buckets else "") + "; never another edge zone's"
        )
        tiers = tuple(
            Tier(tuple(buckets[t]), "edgewise-controller" if t == 0 else f"edgewise-controller-{E.TIER_SOURCES[t]}")
            for t in sorted(buckets)
        )
        return tiers, note

    def _selected_endpoints(self, sel: tuple[tuple[str, str], ...]) -> dict[str, list[tuple[int, Endpoint]]]:
        """Endpoints of the workloads of any namespace whose pod labels hold every pair of
        ``sel``, by zone, each with its rank in inventory order (workloads, then their
        zones); computed once per selector (every zone's copy of a service shares it)."""
        found = self._selected.get(sel)
        if found is not None:
            return found
        if self._cluster_labels is None:
            index: dict[tuple[str, str], list[Workload]] = {}
            for w in self.inventory.workloads():
                for k, v in w.pod_labels.items():
                    index.setdefault((k, v), []).append(w)
            self._cluster_labels = index
        workloads = min((self._cluster_labels.get(pair, []) for pair in sel), key=len)
        by_zone: dict[str, list[tuple[int, Endpoint]]] = {}
        pos = 0
        for w in workloads:
            if not all(w.pod_labels.get(k) == v for k, v in sel):
                continue
            for e in self._workload_endpoints(w, ""):  # named after the Service when picked
                by_zone.setdefault(e.zone, []).append((pos, e))
                pos += 1
        self._selected[sel] = by_zone
        return by_zone

    def _slice_endpoints(self, svc: Service, notes: list[str]) -> list[Endpoint]:
        """Endpoints of a selectorless Service from the EndpointSlices among the inputs
        (label ``kubernetes.io/service-name``), by the ``zone`` each endpoint carries;
        endpoints whose ``conditions.ready`` is false are not used by kube-proxy.
        https://kubernetes.io/docs/concepts/services-networking/endpoint-slices/"""
        by_k8s_zone = {z.k8s_zone: z.name for z in self.topology.zones}
        out: list[Endpoint] = []
        for es in self.inventory.of_kind("EndpointSlice"):
            if es.namespace != svc.namespace or es.labels.get(SERVICE_NAME_LABEL) != svc.name:
                continue
            counts: dict[str, float] = {}
            unzoned = 0
            for ep in _list(es.body.get("endpoints")):
                e = _map(ep)
                if _map(e.get("conditions")).get("ready") is False:
                    continue
                zone = by_k8s_zone.get(str(e.get("zone") or ""), str(e.get("zone") or ""))
                if not zone:
                    unzoned += 1
                    continue
                counts[zone] = counts.get(zone, 0) + max(1, len(_list(e.get("addresses"))))
            notes.append(f"EndpointSlice {es.namespace}/{es.name}: endpoints in "
                         + (", ".join(sorted(counts)) or "no zone"))
            if unzoned:
                notes.append(f"EndpointSlice {es.namespace}/{es.name}: {unzoned} endpoint(s) without a zone "
                             "cannot be placed")
            out.extend(Endpoint(z, svc.namespace, f"EndpointSlice {es.name}", svc.name, n)
                       for z, n in sorted(counts.items()))
        return out

    def _kube(self, caller: Caller, name: str, svc: Service, notes: list[str]) -> Resolution:
        if svc.obj.annotations.get(E.ENDPOINTS_ANNOTATION) == E.ENDPOINTS_MODE and not svc.selector:
            return self._managed(caller, name, svc, notes)
        eps = self._service_endpoints(svc)
        target = f"{svc.namespace}/{svc.name}"
        if not svc.selector:
            eps = self._slice_endpoints(svc, notes)
            if not eps:
                notes.append("no selector: endpoints are managed outside these manifests")
        k8s_zones = self._k8s_zones
        here = k8s_zones.get(caller.zone, caller.zone)
        local = tuple(e for e in eps if k8s_zones.get(e.zone, e.zone) == here)
        if svc.internal_traffic_policy == "Local":
            notes.append(
                "internalTrafficPolicy: Local: only endpoints on the caller's node "
                "(modelled as its zone); no fallback, requests drop"
            )
            tiers: tuple[Tier, ...] = (Tier(local, "internal-traffic-local"),)
        elif svc.prefers_zone:
            how = (
                f"trafficDistribution: {svc.traffic_distribution}"
                if svc.traffic_distribution
                else "topology-aware hints"
            )
            notes.append(f"{how}: same-zone endpoints first, then ALL endpoints cluster-wide")
            tiers = (Tier(local, "topology-hints"), Tier(tuple(eps), "topology-hints-fallback"))
        else:
            notes.append("kube-proxy spreads over all endpoints, whatever their zone")
            tiers = (Tier(tuple(eps), "kube-proxy"),)
        return Resolution(caller, name, True, tiers, tuple(notes), target=target, service=svc)

    # -- Consul -------------------------------------------------------------------------
    def _consul_ns(self, k8s_ns: str) -> str:
        return k8s_ns if self._mirroring else "default"

    def _tproxy(self, w: Workload) -> bool:
        """Whether the caller's Envoy intercepts its DNS-addressed traffic (transparent
        proxy): the pod annotation, else the Helm default (on unless turned off)."""
        value = w.pod_annotations.get(TPROXY, "").lower()
        if value in ("true", "false"):
            return value == "true"
        return self._tproxy_default

    @cached_property
    def _tproxy_default(self) -> bool:
        for o in self.inventory.of_kind("ConsulHelmValues"):
            ci = _map(o.body.get("connectInject"))
            return _map(ci.get("transparentProxy")).get("defaultEnabled", True) is not False
        return True

    def _consul_backed(self, svc: Service) -> bool:
        return any(w.connect_injected for w in self.inventory.select(svc))

    def _service_consul_name(self, svc: Service) -> str:
        for w in self.inventory.select(svc):
            if w.connect_injected:
                return self.inventory.consul_name(w)
        return svc.name

    def _instances(self, service: str, cns: str, subset_filter: str) -> list[Endpoint]:
        out: list[Endpoint] = []
        for w in self.inventory.consul_instances(service):
            if self._mirroring and w.namespace != cns:
                continue
            if subset_filter and not _consul_filter(subset_filter, w):
                continue
            out.extend(self._workload_endpoints(w, service))
        return out

    def consul_resolvers(self) -> list[tuple[str, str, KObject]]:
        """(Consul namespace, service, ServiceResolver) under the key resolution uses."""
        return [(ns, name, o) for (ns, name), o in self._resolvers.items()]

    def consul_resolver(self, service: str, cns: str) -> KObject | None:
        """The ``ServiceResolver`` config entry for ``service`` in Consul namespace ``cns``."""
        return self._resolvers.get((cns, service))

    def _subset_filter(self, resolver: KObject | None, subset: str) -> str:
        if resolver is None or not subset:
            return ""
        return str(_map(_map(resolver.spec.get("subsets")).get(subset)).get("filter") or "")

    def _consul(
        self, caller: Caller, name: str, service: str, cns: str, svc: Service | None, notes: list[str]
    ) -> Resolution:
        subset = ""
        resolver = self.consul_resolver(service, cns)
        for _ in range(_MAX_HOPS):
            if resolver is None:
                break
            redirect = _map(resolver.spec.get("redirect"))
            if not redirect:
                break
            service = str(redirect.get("service") or service)
            cns = str(redirect.get("namespace") or cns)
            subset = str(redirect.get("serviceSubset") or "")
            notes.append(f"ServiceResolver {resolver.name} redirects to {service} (Consul namespace {cns})")
            resolver = self.consul_resolver(service, cns)
        if resolver is not None and not subset:
            subset = str(resolver.spec.get("defaultSubset") or "")
        primary = self._instances(service, cns, self._subset_filter(resolver, subset))
        mechanism = "consul-redirect" if any("redirects" in n for n in notes) else "consul"
        tiers: list[Tier] = []
        locality = _map(resolver.spec.get("prioritizeByLocality")) if resolver else {}
        if locality and str(locality.get("mode", "")) == "failover":
            here = self._k8s_zone(caller.zone)
            notes.append(
                "prioritizeByLocality: same-zone instances first, then the rest of the "
                "Region's (which includes every edge zone)"
            )
            tiers.append(Tier(tuple(e for e in primary if self._k8s_zone(e.zone) == here), "consul-locality"))
        tiers.append(Tier(tuple(primary), mechanism))
        if resolver is not None:
            failover = _map(resolver.spec.get("failover"))
            entry = _map(failover.get(subset) if subset in failover else failover.get("*"))
            targets = [_map(t) for t in _list(entry.get("targets"))] or ([entry] if entry else [])
            for t in targets:
                fs = str(t.get("service") or service)
                fns = str(t.get("namespace") or cns)
                fsub = str(t.get("serviceSubset") or "")
                fres = self.consul_resolver(fs, fns)
                eps = self._instances(fs, fns, self._subset_filter(fres, fsub))
                notes.append(f"failover to {fs} (Consul namespace {fns}): one level, its own failover is not followed")
                tiers.append(Tier(tuple(eps), "consul-failover"))
        target = f"consul:{cns}/{service}"
        if not primary and not any(t.endpoints for t in tiers):
            notes.append(f"no instances of Consul service {service} in namespace {cns}")
        return Resolution(caller, name, True, tuple(tiers), tuple(notes), target=target, service=svc)

    # -- Istio --------------------------------------------------------------------------
    def _istio(self, caller: Caller, name: str, svc: Service, dr: KObject, notes: list[str]) -> Resolution:
        eps = self._service_endpoints(svc)
        target = f"{svc.namespace}/{svc.name}"
        policy = _map(dr.spec.get("trafficPolicy"))
        lb = _map(_map(policy.get("loadBalancer")).get("localityLbSetting"))
        if not policy.get("outlierDetection"):
            notes.append(
                f"DestinationRule {dr.namespace}/{dr.name} has no outlierDetection: "
                "Istio applies no locality priority, endpoints are spread uniformly"
            )
            return Resolution(
                caller, name, True, (Tier(tuple(eps), "istio"),), tuple(notes), target=target, service=svc
            )
        if lb.get("enabled") is False:
            notes.append("localityLbSetting disabled: endpoints are spread uniformly")
            return Resolution(
                caller, name, True, (Tier(tuple(eps), "istio"),), tuple(notes), target=target, service=svc
            )
        prio = [str(p) for p in _list(lb.get("failoverPriority"))]
        caller_w = self.inventory.workload_by_name(caller.namespace, caller.workload)
        if not prio:
            notes.append(
                "Istio default locality: same zone first, then the rest of the region "
                "(edge zones carry the Region's region label)"
            )
            prio = [K8S_ZONE_LABEL]
        else:
            notes.append("failoverPriority " + ", ".join(prio))
        by_rank: dict[int, list[Endpoint]] = {}
        for e in eps:
            rank = 0
            for label in prio:
                if not self._same_label(label, caller, caller_w, e):
                    break
                rank += 1
            by_rank.setdefault(rank, []).append(e)
        tiers = tuple(Tier(tuple(by_rank[r]), "istio-locality") for r in sorted(by_rank, reverse=True))
        return Resolution(caller, name, True, tiers, tuple(notes), target=target, service=svc)

    def _same_label(self, label: str, caller: Caller, caller_w: Workload | None, e: Endpoint) -> bool:
        key, _, value = label.partition("=")
        zone_labels: dict[str, Callable[[str], str]] = {
            K8S_ZONE_LABEL: self._k8s_zone,
            LEGACY_ZONE_LABEL: self._k8s_zone,
            "topology.istio.io/zone": self._k8s_zone,
            ZONE_LABEL: str,
        }
        if key in zone_labels:
            fn = zone_labels[key]
            return fn(e.zone) == (value or fn(caller.zone))
        if key in ("topology.kubernetes.io/region", "topology.istio.io/region"):
            return True  # one Region: every zone (edge included) carries it
        ew = self.inventory.workload_by_name(e.namespace, e.workload)
        have = ew.pod_labels.get(key) if ew else None
        want = value or (caller_w.pod_labels.get(key) if caller_w else None)
        return have is not None and have == want


_FILTER = re.compile(
    r"^\s*Service\.(Meta\.(?P<meta>[\w.-]+)|Tags)\s*(?P<op>==|!=|contains)\s*"
    r'"?(?P<val>[^"]*)"?\s*$'
)


def _serves_a_port(svc: Service, w: Workload) -> bool:
    """Whether the EndpointSlice controller gives ``w``'s pods at least one of the
    Service's ports: a numeric ``targetPort`` always resolves, a named one only when a
    container declares a port of that name; a pod with none lands in a slice without
    ports, which kube-proxy never routes to (getEndpointPorts in k8s.io/endpointslice,
    https://github.com/kubernetes/endpointslice/blob/master/utils.go). A Service without
    ports (headless) keeps every selected pod."""
    ports = [_map(p) for p in _list(svc.obj.spec.get("ports"))]
    if not ports:
        return True
    names = {
        str(_map(cp).get("name"))
        for c in [*_list(w.pod_spec.get("containers")), *_list(w.pod_spec.get("initContainers"))]
        for cp in _list(_map(c).get("ports"))
        if _map(cp).get("name")
    }
    for p in ports:
        target = p.get("targetPort", p.get("port"))
        if not isinstance(target, str) or target.isdigit() or target in names:
            return True
    return False


def _consul_filter(expr: str, w: Workload) -> bool:
    """The subset filters people write: ``Service.Meta.k == "v"``, ``Service.Tags contains``."""
    ok = True
    for clause in re.split(r"\s+and\s+", expr):
        m = _FILTER.match(clause)
        if not m:
            continue  # unknown filter: do not narrow
        val = m.group("val")
        if m.group("meta"):
            ann = f"consul.hashicorp.com/service-meta-{m.group('meta')}"
            have = w.pod_annotations.get(ann)
            ok = ok and ((have == val) if m.group("op") == "==" else (have != val))
        else:
            tags = [t.strip() for t in w.pod_annotations.get("consul.hashicorp.com/service-tags", "").split(",")]
            ok = ok and (val in tags)
    return ok
