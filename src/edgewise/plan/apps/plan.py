"""The application plan: per-zone copies, east-west routing per backend, per-zone ingress.

Sites: every edge zone of the topology is a site with its own namespace
(``<app>-<zone.slug>``) when the app has any edge copy; the Region is one site
(``<app>-region``) whose copies spread over all Region AZs. An edge copy calls the copy
in its own zone first and fails over to the Region copy only -- never to another edge
zone, which the edge network cannot reach. How that is expressed depends on
``spec.routing``:

* ``consul-enterprise`` (seed 003): Consul namespaces mirrored from Kubernetes; in each edge
  namespace a ServiceResolver ``redirect`` sends Region-only services to the Region
  namespace, and ``failover: {"*": ...}`` sends an edge copy's callers to the Region copy.
* ``consul`` (CE): one Consul namespace, so every edge copy gets its own service name
  ``<svc>-<zone.slug>`` whose resolver fails over to the plain ``<svc>`` (the Region copy).
* ``istio``: one namespace ``<app>`` for every copy. A Service selects pods of its own
  namespace only (and so does a ServiceEntry's ``workloadSelector``), so a zone's host can
  hold the Region's copy only if both live in one namespace: each edge copy is
  ``<svc>-<zone.slug>``, its Service selects the label ``edgewise.dev/serves-<zone.slug>``
  that the zone's pods and the Region copy carry (the Region copy one such label per zone
  it backs), and a DestinationRule orders the endpoints by zone (``failoverPriority``)
  with outlier detection. Callers in a zone address ``<svc>-<zone.slug>``, Region callers
  the Region copy ``<svc>``. No Region pod runs per zone. What decides it: a Service's
  selector matches pods of its namespace only
  (https://kubernetes.io/docs/concepts/services-networking/service/), and a ServiceEntry's
  ``workloadSelector`` too ("The scope of label search is restricted to the configuration
  namespace", https://istio.io/latest/docs/reference/config/type/workload-selector/;
  istiod 1.29.1 ``pilot/pkg/serviceregistry/util/workloadinstances/selector.go``
  ``ByServiceSelector``: ``wi.Namespace == namespace``). A selectorless Service with
  hand-kept EndpointSlices could reach another namespace's pods (istiod follows an
  endpoint's ``targetRef``, ``pilot/pkg/serviceregistry/kube/controller/endpointslice.go``)
  but needs a controller writing every zone's slice; docs/istio-lab.md has the figures.
* ``kubernetes``: namespace per zone, ``ExternalName`` aliases for Region-only services.
  kube-proxy has no notion of "prefer, then Region only", so an edge copy that others call
  with failover gets a Service *without selector* whose EndpointSlice the edgewise
  controller keeps: the zone's Ready pods, else the Region's (:mod:`edgewise.plan.endpoints`,
  :mod:`edgewise.controller`); an exposed copy also gets ``<svc>-local`` for its ALB.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ...errors import InputError, Problem
from ...spec import Application, Document, Failover, Routing, ServiceSpec, ZoneType
from ...spec.credentials import looks_like_credential
from ...spec.names import fails_over_from_edge, shared_namespace_clashes, zone_local_name
from ...topology import Topology, Zone
from ...yamlout import dump
from .. import labels as L
from ..artifacts import Artifact, StackFile
from ..cluster.addons import STORAGE_CLASS_NAME
from ..hosts import rename_hosts
from .ingress import (
    IngressSite,
    dns_parameter_sites,
    dns_parts,
    dns_sites,
    dns_stack,
    ingress,
    ingress_scheme,
    ingress_subnets,
    site_kind,
)
from .mesh import consul_values, istiod_values
from .model import AppPlan, CallRoute, ServiceCopy, SitePlan
from .names import (
    REGION_SITE,
    alb_name,
    app_namespace,
    consul_name,
    dns_label,
    label_value,
    region_namespace,
    serves_label,
    zone_namespace,
    zone_service_name,
)
from .workloads import (
    COPY_LABEL,
    PART_OF_LABEL,
    deployment,
    externalname_service,
    managed_service,
    namespace_object,
    pdb,
    region_replicas,
    service,
    service_account,
    statefulset,
)

CALLS_ANNOTATION = "edgewise.dev/calls"

#: The files of a site's directory ``apps/<app>/<dir>/``: a few per namespace, not one per
#: service, because creating files is most of the time of a first plan on a slow disk.
#: ``namespace.yaml`` stays on its own: the RUNBOOK applies the Namespaces alone before
#: the Secrets (see :func:`.install.install_steps`). ``services.yaml`` holds, service by
#: service in name order, everything one service needs in the site -- workload, Service,
#: PDB, its mesh objects (ServiceDefaults, resolvers, intentions, DestinationRule) or the
#: alias of a Region-only service -- named after the spec's ``services`` list it follows.
#: ``ingress.yaml`` is the site's ALB. ``kubectl kustomize`` orders its output by kind
#: and name, not by file (its default "legacy" order), so the layout does not change it.
NAMESPACE_FILE = "namespace.yaml"
SERVICES_FILE = "services.yaml"
INGRESS_FILE = "ingress.yaml"


def _in_dir(site_dir: str, file: str) -> str:
    """``file`` of a site directory, relative to apps/<app>/ ("": the app's own directory)."""
    return f"{site_dir}/{file}" if site_dir else file

__all__ = ["plan_application"]

CONSUL_API = "consul.hashicorp.com/v1alpha1"
ISTIO_API = "networking.istio.io/v1"
CONSUL = (Routing.CONSUL_ENTERPRISE, Routing.CONSUL)

#: passive health checking for every upstream (Envoy outlier detection): failover is
#: driven by health, and without it a failing-but-registered copy keeps receiving calls
PASSIVE_HEALTH_CHECK = {
    "interval": "10s",
    "maxFailures": 3,
    "enforcingConsecutive5xx": 100,
    "maxEjectionPercent": 100,
    "baseEjectionTime": "30s",
}
OUTLIER_DETECTION = {
    "consecutive5xxErrors": 3,
    "interval": "10s",
    "baseEjectionTime": "30s",
    "maxEjectionPercent": 100,
}


@dataclass(frozen=True)
class _Site:
    key: str  # zone name or "region"
    zone: Zone | None  # None = the Region
    namespace: str
    #: directory of the site's files under apps/<app>/: its namespace, except where every
    #: site shares one namespace (istio), then the name a namespace per site would have
    dir: str = ""

    @property
    def is_edge(self) -> bool:
        return self.zone is not None


class _Builder:
    def __init__(self, topology: Topology, app: Application, doc: Document | None = None) -> None:
        self.t = topology
        self.app = app
        self.doc = doc  # where the Application was read from (positions for problems)
        self.name = app.metadata.name
        self.routing = Routing(app.spec.routing)
        self.services = list(app.spec.services)
        self.by_name = {s.name: s for s in self.services}
        #: services called from edge copies with failover to their Region copy (the spec's
        #: answer, the same at every edge site: asked once per service, not per site)
        self.edge_failover = {s.name for s in self.services if fails_over_from_edge(s, self.services)}
        self.notes: list[str] = []
        #: one namespace for every copy (istio): per-zone names instead of per-zone namespaces
        self.shared_ns = app_namespace(self.name) if self.routing is Routing.ISTIO else None
        self.region_ns = self.shared_ns or region_namespace(self.name)
        self.edge_sites: list[_Site] = []
        if any(s.has_edge_copies for s in self.services):
            self.edge_sites = [
                _Site(z.name, z, self.shared_ns or d, d)
                for z in topology.edge_zones
                for d in (zone_namespace(self.name, z),)
            ]
        self.region_site = (
            _Site(REGION_SITE, None, self.region_ns, region_namespace(self.name))
            if (any(s.has_region_copy for s in self.services))
            else None
        )
        self._check_names()
        self.check_unique()
        # path (relative to apps/<app>) -> documents, but for each directory's SERVICES_FILE
        self.files: dict[str, list[dict[str, Any]]] = {}
        # site directory -> service -> its documents there (the directory's SERVICES_FILE)
        self.service_docs: dict[str, dict[str, list[dict[str, Any]]]] = {}
        #: namespace -> the file (relative to apps/<app>) holding its Namespace object
        self.namespace_files: dict[str, str] = {}
        #: (site key, service) -> the Service an exposed copy's ALB targets
        self.ingress_backends: dict[tuple[str, str], str] = {}
        #: service -> edge sites whose host includes the Region copy (istio)
        self.backed: dict[str, list[_Site]] = {}

    # -- helpers -----------------------------------------------------------------------
    def _check_names(self) -> None:
        seen: dict[str, str] = {}
        problems = []
        for s in [*self.edge_sites, *([self.region_site] if self.region_site else [])]:
            what = f"the same name {s.dir!r}" if self.shared_ns else f"the same namespace {s.dir!r}"
            if s.dir in seen:
                problems.append(
                    Problem(
                        "",
                        0,
                        0,
                        "metadata.name",
                        f"zones {seen[s.dir]!r} and {s.key!r} of application {self.name!r} "
                        f"map to {what}",
                        "rename one of the zones",
                    )
                )
            seen[s.dir] = s.key
        if problems:
            raise InputError(problems)

    def copy_name(self, site: _Site, svc: ServiceSpec) -> str:
        """The name of ``svc``'s Deployment, Service and DestinationRule in ``site``."""
        return zone_service_name(svc.name, site.zone) if self.shared_ns else svc.name

    def address(self, site: _Site, callee: ServiceSpec) -> str:
        """The name a copy in ``site`` calls ``callee`` by: the zone's own copy where it
        has one (istio: ``<svc>-<zone.slug>``), else the plain name."""
        if self.shared_ns and site.is_edge and callee.has_edge_copies:
            return zone_service_name(callee.name, site.zone)
        return callee.name

    @property
    def sites(self) -> list[_Site]:
        return [*self.edge_sites, *([self.region_site] if self.region_site else [])]

    def runs(self, site: _Site, svc: ServiceSpec) -> bool:
        return svc.has_edge_copies if site.is_edge else svc.has_region_copy

    def add(self, site_dir: str, file: str, *docs: dict[str, Any]) -> None:
        """Documents of ``file`` in ``site_dir`` ("": directly under apps/<app>/)."""
        self.files.setdefault(_in_dir(site_dir, file), []).extend(docs)

    def add_service(self, site_dir: str, service: str, *docs: dict[str, Any]) -> None:
        """Documents of ``service`` in the site's SERVICES_FILE."""
        self.service_docs.setdefault(site_dir, {}).setdefault(service, []).extend(docs)

    def add_namespace(self, site_dir: str, ns: dict[str, Any]) -> None:
        self.add(site_dir, NAMESPACE_FILE, ns)
        self.namespace_files[ns["metadata"]["name"]] = _in_dir(site_dir, NAMESPACE_FILE)

    def has_failover(self, svc: ServiceSpec) -> bool:
        return (
            svc.has_edge_copies
            and svc.has_region_copy
            and svc.effective_failover is Failover.REGION
        )

    # -- routes -------------------------------------------------------------------------
    def route(self, site: _Site, caller: ServiceSpec, callee: ServiceSpec) -> CallRoute:
        r = self.routing
        if site.is_edge:
            assert site.zone is not None
            if callee.has_edge_copies:
                failover = self.has_failover(callee)
                mech = {
                    Routing.CONSUL_ENTERPRISE: "consul-failover" if failover else "consul",
                    Routing.CONSUL: "consul-failover" if failover else "consul",
                    Routing.ISTIO: "istio-locality",
                    Routing.KUBERNETES: "edgewise-controller" if failover else "kube-proxy",
                }[r]
                return CallRoute(
                    caller.name,
                    callee.name,
                    site.key,
                    site.namespace,
                    REGION_SITE if failover else None,
                    self.region_ns if failover else None,
                    mech,
                )
            mech = {
                Routing.CONSUL_ENTERPRISE: "consul-redirect",
                Routing.CONSUL: "consul",
                Routing.ISTIO: "istio",  # the Region's Service, in the one namespace
                Routing.KUBERNETES: "externalname",
            }[r]
            return CallRoute(
                caller.name, callee.name, REGION_SITE, self.region_ns, None, None, mech
            )
        if callee.has_region_copy:
            mech = {
                Routing.CONSUL_ENTERPRISE: "consul",
                Routing.CONSUL: "consul",
                Routing.ISTIO: "istio",
                Routing.KUBERNETES: "kube-proxy",
            }[r]
            return CallRoute(
                caller.name, callee.name, REGION_SITE, self.region_ns, None, None, mech
            )
        return CallRoute(caller.name, callee.name, None, None, None, None, "none")

    def routes(self, site: _Site) -> list[CallRoute]:
        out: list[CallRoute] = []
        for svc in self.services:
            if not self.runs(site, svc):
                continue
            out.extend(self.route(site, svc, self.by_name[c]) for c in svc.calls)
        return out

    # -- build ---------------------------------------------------------------------------
    def build(self) -> AppPlan:
        site_routes = {s.key: self.routes(s) for s in self.sites}
        for s in self.sites:
            for r in site_routes[s.key]:
                if r.target is None:
                    self.notes.append(
                        f"the Region copy of {r.caller} calls {r.callee}, which runs only in "
                        "edge zones: "
                        "the Region cannot pick an edge zone for it, so that call has no target "
                        f"(give {r.callee} placement edge-and-region)"
                    )
        copies: dict[str, list[ServiceCopy]] = {s.key: [] for s in self.sites}
        for s in self.edge_sites:
            for svc in self.services:
                if self.fails_over_here(s, svc):
                    self.backed.setdefault(svc.name, []).append(s)
        if self.shared_ns:
            self.add_namespace("", self.namespace(None))
        for s in self.sites:
            if not self.shared_ns:
                self.add_namespace(s.dir, self.namespace(s))
            for svc in self.services:
                if self.runs(s, svc):
                    copies[s.key].extend(self.emit_copy(s, svc))
                elif s.is_edge and svc.has_region_copy:
                    self.emit_region_alias(s, svc, site_routes[s.key])
        if self.routing in CONSUL:
            self.emit_intentions(site_routes)
        ingress_sites = self.emit_ingress()
        self.backend_notes()
        return self.assemble(site_routes, copies, ingress_sites)

    def namespace(self, s: _Site | None) -> dict[str, Any]:
        """A site's namespace, or (``s`` None) the one namespace every site shares."""
        labels = {PART_OF_LABEL: self.name}
        if s is not None:
            labels[L.ROLE_LABEL] = "edge" if s.is_edge else "region"
            if s.zone is not None:
                labels[L.ZONE_LABEL] = label_value(s.zone.name)
        if self.routing is Routing.ISTIO:
            labels["istio-injection"] = "enabled"
        return namespace_object(s.namespace if s is not None else self.region_ns, labels)

    def check_unique(self) -> None:
        """Per-zone names in one namespace can meet a service's own name (a service
        ``api-lax-1a`` next to ``api``'s copy in ``us-west-2-lax-1a``): refuse the spec, as
        spec validation does (one definition: :func:`edgewise.spec.names.shared_namespace_clashes`)."""
        edge = [(z.name, z.slug) for z in self.t.edge_zones] if self.edge_sites else []
        problems = shared_namespace_clashes(self.app, edge, self.doc)
        if problems:
            raise InputError(problems)

    # -- one copy of a service in a site ---------------------------------------------------
    def consul_service_name(self, svc: ServiceSpec, site: _Site) -> str:
        if self.routing is Routing.CONSUL and site.is_edge:
            return consul_name(svc.name, site.zone)
        return svc.name

    def consul_annotations(self, site: _Site, svc: ServiceSpec) -> dict[str, str]:
        ann = {
            "consul.hashicorp.com/connect-inject": "true",
            "consul.hashicorp.com/connect-service": self.consul_service_name(svc, site),
        }
        ups: list[str] = []
        used: set[int] = set()
        next_free = 20000
        for call in svc.calls:
            callee = self.by_name[call]
            if not site.is_edge and not callee.has_region_copy:
                continue  # no target (noted)
            if self.routing is Routing.CONSUL and site.is_edge and callee.has_edge_copies:
                upstream = consul_name(callee.name, site.zone)
            else:
                upstream = callee.name  # Enterprise: resolved (redirect/failover) in this namespace
            port = callee.port
            while port in used or port == svc.port:
                port, next_free = next_free, next_free + 1
            used.add(port)
            ups.append(f"{upstream}:{port}")
        if ups:
            ann["consul.hashicorp.com/connect-service-upstreams"] = ",".join(ups)
        if svc.expose is not None:
            # the ALB sends plain HTTP straight to the pod IP: let it past the sidecar
            ann["consul.hashicorp.com/transparent-proxy-exclude-inbound-ports"] = str(svc.port)
        return ann

    def fails_over_here(self, site: _Site, svc: ServiceSpec) -> bool:
        """Is ``svc`` called from ``site`` with failover to the Region? (Every edge site
        runs the same copies, so the answer is the spec's: :func:`fails_over_from_edge`.)"""
        return site.is_edge and svc.name in self.edge_failover

    def zone_env(self, site: _Site, svc: ServiceSpec) -> ServiceSpec:
        """``svc`` with the environment its copy in ``site`` gets. Where every copy shares
        one namespace (istio), a called service's plain name is the Region's Service, so in
        a zone's copy each host that names a callee with a copy in the zone (as ``check``
        reads hosts in values, :mod:`edgewise.plan.hosts`) names the zone's copy instead:
        ``http://api:9090`` -> ``http://api-lax-1a:9090``. Values from Secrets are not
        known here and stay as they are."""
        if not (self.shared_ns and site.is_edge and svc.env):
            return svc
        names = {c: a for c in svc.calls if (a := self.address(site, self.by_name[c])) != c}
        env = {
            k: rename_hosts(v, k, names, self.shared_ns) if isinstance(v, str) and names else v
            for k, v in svc.env.items()
        }
        changed = sorted(k for k in env if env[k] != svc.env[k])
        if not changed:
            return svc
        note = (
            f"routing 'istio': in each zone's copy of {svc.name}, the hosts in {', '.join(changed)} that "
            "name a called service name the zone's copy <service>-<zone> instead (a plain name is the "
            "Region's Service)"
        )
        if note not in self.notes:
            self.notes.append(note)
        return svc.model_copy(update={"env": env})

    def emit_copy(self, site: _Site, svc: ServiceSpec) -> list[ServiceCopy]:
        ns, zone = site.namespace, site.zone
        svc = self.zone_env(site, svc)
        name = self.copy_name(site, svc)
        backed = self.backed.get(svc.name, []) if self.shared_ns and not site.is_edge else []
        replicas = svc.replicas if site.is_edge else region_replicas(svc)
        if backed:
            # one Region copy backs the host of every zone in `backed`: room for the
            # Region's own callers plus one zone's whole load failing over to it
            replicas += svc.replicas
        docs: list[dict[str, Any]] = []
        # Record the calls so `check` (and any reader) knows who calls whom: Consul
        # upstream annotations say it for the Consul backends; elsewhere the calls are
        # plain DNS names, declared with edgewise.dev/calls on the pod template.
        annotations: dict[str, str] | None = None
        sa: str | None = None
        if svc.calls and self.routing not in CONSUL:
            annotations = {CALLS_ANNOTATION: ",".join(self.address(site, self.by_name[c]) for c in svc.calls)}
        if self.routing in CONSUL:
            annotations = self.consul_annotations(site, svc)
            sa = self.consul_service_name(svc, site)  # consul-k8s: SA name == service name
            docs.append(service_account(self.name, sa, ns))
        mesh_token = self.routing in CONSUL
        if svc.storage is not None and not site.is_edge:
            # gp2: the one EBS type every zone type offers (Wavelength and Outposts: gp2 only)
            docs.append(
                statefulset(
                    self.t,
                    self.name,
                    svc,
                    ns,
                    name=svc.name,
                    replicas=replicas,
                    storage_class=STORAGE_CLASS_NAME,
                    annotations=annotations,
                    service_account=sa,
                    mesh_token=mesh_token,
                )
            )
        else:
            # istio: the zone's pods and the Region copy carry the label of every zone
            # host they are in (the zone's Service selects it)
            hosts = [site] if site.is_edge and self.shared_ns else backed
            docs.append(
                deployment(
                    self.t,
                    self.name,
                    svc,
                    ns,
                    zone,
                    name=name,
                    replicas=replicas,
                    annotations=annotations,
                    service_account=sa,
                    mesh_token=mesh_token,
                    by_zone=self.shared_ns is not None,
                    extra_labels={serves_label(h.zone): "true" for h in hosts if h.zone is not None},
                )
            )
        if replicas > 1:
            docs.append(pdb(self.name, svc, ns, zone, name=name, by_zone=self.shared_ns is not None))
        out = [ServiceCopy(svc.name, ns, name, replicas)]
        fails_over = self.fails_over_here(site, svc)
        managed = self.routing is Routing.KUBERNETES and fails_over
        if managed:
            assert zone is not None
            docs.append(managed_service(self.name, svc, ns, zone))
        elif self.shared_ns and zone is not None:
            # the zone's host: its own pods, and the Region copy when it fails over there
            docs.append(service(self.name, svc, ns, name=name, extra_selector={serves_label(zone): "true"}))
        elif self.shared_ns:
            # the Region's host: the Region copy only (every zone's copy shares the namespace)
            docs.append(service(self.name, svc, ns, extra_selector={COPY_LABEL: "region"}))
        else:
            docs.append(service(self.name, svc, ns))
        self.ingress_backends[(site.key, svc.name)] = name
        if (managed or (self.shared_ns and fails_over)) and svc.expose is not None:
            # the zone's ALB must target only the zone's pods, not the Region's
            local = zone_local_name(name)
            only_zone = {COPY_LABEL: "edge"}
            if self.shared_ns and zone is not None:
                only_zone[L.ZONE_LABEL] = label_value(zone.name)
            docs.append(service(self.name, svc, ns, name=local, extra_selector=only_zone))
            self.ingress_backends[(site.key, svc.name)] = local
        if self.routing in CONSUL:
            docs.extend(self.consul_config(site, svc, fails_over))
        elif self.routing is Routing.ISTIO:
            docs.append(self.destination_rule(site, svc))
        self.add_service(site.dir, svc.name, *docs)
        return out

    def emit_region_alias(self, site: _Site, svc: ServiceSpec, routes: list[CallRoute]) -> None:
        """A Region-only service seen from an edge namespace."""
        called_here = any(r.callee == svc.name for r in routes)
        if self.shared_ns:
            return  # the short name is the Region's own Service, in the one namespace
        if self.routing in (Routing.KUBERNETES, Routing.ISTIO):
            # short name resolves in every edge namespace, to the Region copy
            self.add_service(
                site.dir,
                svc.name,
                externalname_service(self.name, svc, site.namespace, self.region_ns),
            )
        elif self.routing is Routing.CONSUL_ENTERPRISE and called_here:
            self.add_service(
                site.dir,
                svc.name,
                self.resolver(
                    svc.name,
                    site.namespace,
                    {"redirect": {"service": svc.name, "namespace": self.region_ns}},
                ),
            )
        # Consul CE: one Consul namespace, the Region service keeps its plain name

    # -- Consul ------------------------------------------------------------------------------
    def resolver(self, name: str, ns: str, spec: dict[str, Any]) -> dict[str, Any]:
        return {
            "apiVersion": CONSUL_API,
            "kind": "ServiceResolver",
            "metadata": {"name": name, "namespace": ns, "labels": {PART_OF_LABEL: self.name}},
            "spec": spec,
        }

    def consul_config(self, site: _Site, svc: ServiceSpec, failover: bool) -> list[dict[str, Any]]:
        name = self.consul_service_name(svc, site)
        protocol = "http" if (svc.expose is not None or svc.health_path) else "tcp"
        docs: list[dict[str, Any]] = [
            {
                "apiVersion": CONSUL_API,
                "kind": "ServiceDefaults",
                "metadata": {
                    "name": name,
                    "namespace": site.namespace,
                    "labels": {PART_OF_LABEL: self.name},
                },
                "spec": {
                    "protocol": protocol,
                    "upstreamConfig": {
                        "defaults": {"passiveHealthCheck": dict(PASSIVE_HEALTH_CHECK)}
                    },
                },
            }
        ]
        if failover:
            target: dict[str, Any] = {"service": svc.name}
            if self.routing is Routing.CONSUL_ENTERPRISE:
                target["namespace"] = self.region_ns
            docs.append(self.resolver(name, site.namespace, {"failover": {"*": target}}))
        return docs

    def emit_intentions(self, site_routes: dict[str, list[CallRoute]]) -> None:
        """Deny by default; allow exactly the calls, including redirect and failover targets."""
        by_key = {s.key: s for s in self.sites}
        sources: dict[tuple[str, str], list[dict[str, str]]] = {}
        for s in self.sites:
            for r in site_routes[s.key]:
                caller = self.by_name[r.caller]
                src: dict[str, str] = {"name": self.consul_service_name(caller, s)}
                if self.routing is Routing.CONSUL_ENTERPRISE:
                    src["namespace"] = s.namespace
                src["action"] = "allow"
                for target in (r.target, r.failover):
                    if target is None:
                        continue
                    lst = sources.setdefault((target, r.callee), [])
                    if src not in lst:
                        lst.append(src)
        for s in self.sites:
            for svc in self.services:
                if not self.runs(s, svc):
                    continue
                allowed = sources.get((s.key, svc.name), [])
                deny: dict[str, str] = {"name": "*"}
                if self.routing is Routing.CONSUL_ENTERPRISE:
                    deny["namespace"] = "*"
                deny["action"] = "deny"
                self.add_service(
                    by_key[s.key].dir,
                    svc.name,
                    {
                        "apiVersion": CONSUL_API,
                        "kind": "ServiceIntentions",
                        "metadata": {
                            "name": self.consul_service_name(svc, s),
                            "namespace": s.namespace,
                            "labels": {PART_OF_LABEL: self.name},
                        },
                        "spec": {
                            "destination": {"name": self.consul_service_name(svc, s)},
                            "sources": [*allowed, deny],
                        },
                    },
                )

    # -- Istio ----------------------------------------------------------------------------
    def destination_rule(self, site: _Site, svc: ServiceSpec) -> dict[str, Any]:
        name = self.copy_name(site, svc)
        policy: dict[str, Any] = {}
        if site.zone is not None:
            label = L.ZONE_LABEL if site.zone.kind is ZoneType.OUTPOST else L.K8S_ZONE_LABEL
            policy["loadBalancer"] = {
                "localityLbSetting": {"enabled": True, "failoverPriority": [label]}
            }
        policy["outlierDetection"] = dict(OUTLIER_DETECTION)
        return {
            "apiVersion": ISTIO_API,
            "kind": "DestinationRule",
            "metadata": {
                "name": name,
                "namespace": site.namespace,
                "labels": {PART_OF_LABEL: self.name},
            },
            "spec": {
                "host": f"{name}.{site.namespace}.svc.cluster.local",
                "trafficPolicy": policy,
            },
        }

    # -- ingress ---------------------------------------------------------------------------
    def emit_ingress(self) -> list[IngressSite]:
        if self.app.spec.ingress.value != "alb":
            return []
        out: list[IngressSite] = []
        for s in self.sites:
            exposed = [svc for svc in self.services if svc.expose is not None and self.runs(s, svc)]
            if not exposed:
                continue
            backends = [(svc, self.ingress_backends[(s.key, svc.name)]) for svc in exposed]
            site = IngressSite(
                s.key,
                s.zone,
                s.namespace,
                alb_name(self.name, s.zone.slug if s.zone else REGION_SITE),
                # one Ingress per site; in a shared namespace each needs its own name
                dns_label(f"{self.name}-{s.zone.slug}") if self.shared_ns and s.zone else self.name,
            )
            self.add(s.dir, INGRESS_FILE, ingress(self.t, self.app, site, backends))
            out.append(site)
        return out

    # -- notes -----------------------------------------------------------------------------
    def backend_notes(self) -> None:
        r = self.routing
        if r in CONSUL and any(s.calls for s in self.services):
            self.notes.append(
                "Consul: each caller reaches its upstreams on localhost:<port> as listed in its "
                "consul.hashicorp.com/connect-service-upstreams annotation; point the app there"
            )
        if r is Routing.KUBERNETES:
            wanted = [s.name for s in self.services if self.has_failover(s) and s.has_edge_copies]
            self.notes.append(
                "routing 'kubernetes' (no mesh): the edgewise controller "
                "(cluster/addons/edgewise-controller.yaml) keeps the endpoints of each edge copy "
                "that is called with failover: the zone's Ready pods, else the Region's, never "
                "another edge zone's"
                + (f" (services: {', '.join(wanted)})" if wanted else "")
                + "; without the controller running those Services have no endpoints"
            )
        elif r is Routing.CONSUL_ENTERPRISE:
            self.notes.append(
                "routing 'consul-enterprise' needs Consul Enterprise with namespaces: the RUNBOOK "
                f"installs consul-k8s with apps/{self.name}/consul-values.yaml (namespace "
                "mirroring, ACLs, TLS, gossip encryption; licence Secret 'consul-ent-license' in "
                "the consul namespace from $CONSUL_LICENSE_FILE)"
            )
        elif r is Routing.CONSUL:
            self.notes.append(
                "routing 'consul' (CE): each edge copy is a Consul service named "
                "<service>-<zone>, whose "
                "resolver fails over to the Region copy <service>; the RUNBOOK installs consul-k8s "
                f"with apps/{self.name}/consul-values.yaml"
            )
        elif r is Routing.ISTIO:
            self.notes.append(
                f"routing 'istio': every copy is in namespace {self.region_ns}; a zone's copy of "
                "a service is <service>-<zone>, and its callers in that zone call that name, "
                "whose Service holds the zone's pods and, for a service that fails over, the "
                "Region copy <service> (DestinationRule failoverPriority: the zone first, the "
                "Region next, never another zone); a Region copy that backs zones runs "
                "replicas for one zone's load on top of the Region's own"
            )
        if self.app.spec.ingress.value == "alb" and any(s.expose for s in self.services):
            kinds = {s.zone.kind for s in self.edge_sites if s.zone is not None}
            self.notes.append(self.alb_subnet_note(kinds))
            if not self.t.public_subnets and self.region_site is not None:
                self.notes.append(
                    "the VPC is yours (vpc.id): tag its Region public subnets Name="
                    f"{self.t.name}-public-<AZ> (and kubernetes.io/role/elb=1) for the Region ALB"
                )
            lzs = [s.zone for s in self.edge_sites if s.zone is not None and s.zone.kind is ZoneType.LOCAL]
            if lzs and self.t.vpc_id is not None:
                given = ", ".join(f"{z.name}: {z.subnet_id}" for z in lzs)
                self.notes.append(
                    "the VPC is yours (vpc.id): each Local Zone ALB goes into the zone subnet the "
                    f"spec names ({given}), which must be public (route 0.0.0.0/0 to an internet "
                    "gateway) for the internet-facing ALB to be reachable; behind a NAT gateway "
                    "only, it is not"
                )
            if ZoneType.WAVELENGTH in kinds:
                self.notes.append(
                    "Wavelength ALBs get carrier IPs, reachable only from that carrier's network: "
                    "each gets its own carrier-facing name in dns.cfn.yaml (CarrierRecordName<zone>), "
                    "never the internet name; 5G clients find the zone's name through the carrier's "
                    "edge discovery API"
                )
            internal = [
                s.zone.name for s in self.edge_sites
                if s.zone is not None and ingress_scheme(s.zone) == "internal"
            ]
            if internal:
                self.notes.append(
                    "the ALBs on Outposts without customerOwnedIpv4Pool are internal (reachable "
                    f"from the VPC and over its local gateway only): {', '.join(internal)}; give "
                    "the zone customerOwnedIpv4Pool: ipv4pool-coip-... for an internet-facing ALB"
                )
            if self.app.spec.tls is None:
                self.notes.append(
                    "the internet-facing ALBs serve plain HTTP: add spec.tls (certificateArn, or "
                    "host for ACM discovery) for HTTPS with an HTTP to HTTPS redirect"
                )
        self.credential_notes()

    def credential_notes(self) -> None:
        for svc in self.services:
            for var, value in sorted(svc.env.items()):
                if isinstance(value, str):
                    why = looks_like_credential(var, value)
                    if why:
                        self.notes.append(
                            f"WARNING: service {svc.name}: env {var} {why}; it is written verbatim "
                            "into the Deployment. Put it in a Secret and reference it with "
                            "{valueFrom: {secretKeyRef: {name: ..., key: ...}}}"
                        )

    def alb_subnet_note(self, kinds: set[ZoneType]) -> str:
        """How the ALB subnet annotations name subnets, for the kinds of edge sites there are."""
        parts = ["Region: <topology>-public-<az>"]
        own = [k for k in (ZoneType.LOCAL, ZoneType.WAVELENGTH, ZoneType.OUTPOST) if k in kinds]
        if ZoneType.LOCAL in kinds and any(z.public_cidr for z in self.t.of_kind(ZoneType.LOCAL)):
            parts.append("Local Zone: its public subnet <topology>-public-<zone>")
            own.remove(ZoneType.LOCAL)
        if own:
            what = {ZoneType.LOCAL: "Local Zone", ZoneType.WAVELENGTH: "Wavelength Zone", ZoneType.OUTPOST: "Outpost"}
            parts.append(" and ".join(what[k] for k in own) + ": the zone subnet <topology>-<zone slug>")
        return (
            f"ALB subnets are named by their Name tag ({'; '.join(parts)}) unless the spec "
            "gives subnet IDs; the cluster plan tags its subnets so"
        )

    # -- assemble ----------------------------------------------------------------------------
    def assemble(
        self,
        site_routes: dict[str, list[CallRoute]],
        copies: dict[str, list[ServiceCopy]],
        ingress_sites: list[IngressSite],
    ) -> AppPlan:
        base = f"apps/{self.name}"
        files = dict(self.files)
        for site_dir, by_service in self.service_docs.items():
            files[_in_dir(site_dir, SERVICES_FILE)] = [
                doc for svc in sorted(by_service) for doc in by_service[svc]
            ]
        artifacts = [Artifact(f"{base}/{p}", docs=tuple(d)) for p, d in sorted(files.items())]
        resources = sorted(files)
        artifacts.append(
            Artifact(
                f"{base}/kustomization.yaml",
                text=dump(
                    {
                        "apiVersion": "kustomize.config.k8s.io/v1beta1",
                        "kind": "Kustomization",
                        "resources": resources,
                    }
                ),
            )
        )
        if self.routing in CONSUL:
            artifacts.append(
                Artifact(f"{base}/consul-values.yaml", text=dump(consul_values(self.t, self.routing)))
            )
        elif self.routing is Routing.ISTIO:
            artifacts.append(Artifact(f"{base}/istiod-values.yaml", text=dump(istiod_values())))
        dns_stacks: list[StackFile] = []
        if dns_sites(ingress_sites):
            # one file per stack: dns.cfn.yaml, and when split dns-edge-NN.cfn.yaml (and
            # dns-failover.cfn.yaml); each a document plan's check reads as it is written
            for part in dns_parts(self.t, self.app, ingress_sites):
                art = Artifact(f"{base}/dns{part.suffix}.cfn.yaml", docs=(part.template,), bare=True)
                artifacts.append(art)
                dns_stacks.append(StackFile(
                    dns_stack(self.t, self.name) + part.suffix, art.path, part.parameters,
                    tuple(part.template.get("Outputs", {})), len(art.render().encode()), part.zones))
        with_alb = {s.site for s in ingress_sites}
        sites = tuple(
            SitePlan(
                site=s.key,
                kind=site_kind(s.zone),
                namespace=s.namespace,
                zones=(s.zone.name,) if s.zone else tuple(z.name for z in self.t.region_zones),
                services=tuple(copies[s.key]),
                calls=tuple(site_routes[s.key]),
                ingress_subnets=ingress_subnets(self.t, s.zone) if s.key in with_alb else (),
            )
            for s in self.sites
        )
        return AppPlan(
            app=self.name,
            routing=self.routing.value,
            sites=sites,
            artifacts=artifacts,
            notes=self.notes,
            resources=tuple(f"{base}/{p}" for p in resources),
            dns=tuple(dns_parameter_sites(ingress_sites)) if dns_sites(ingress_sites) else (),
            namespace_files={ns: f"{base}/{p}" for ns, p in sorted(self.namespace_files.items())},
            dns_stacks=tuple(dns_stacks),
        )


def plan_application(topology: Topology, app: Application, doc: Document | None = None) -> AppPlan:
    """Plan ``app`` on ``topology``: files under ``apps/<app>/`` and a per-site summary.

    ``doc``: the document ``app`` was read from, for the file:line of a problem the plan
    refuses (names that clash once copies are named per zone: spec validation refuses
    them too, with the same definition, but ``app`` may not have been through it).
    """
    return _Builder(topology, app, doc).build()
