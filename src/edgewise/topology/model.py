"""The resolved edge network: zones with their facts, subnets, reachability, latency.

This is the one place that knows how the hub-and-spoke edge network behaves. Every
later layer (plan, check, simulate) asks :class:`Topology`; nothing re-derives
reachability or latency on its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property

from ..catalog import CatalogRegion, load_catalog
from ..errors import InputError
from ..spec import EndpointAccess, Spec, ZoneType
from ..spec.models import LatencyOverride, NodeGroupSpec, ZoneSpec
from ..spec.names import zone_slug
from ..spec.semantic import resolve_zone_type
from .latency import LatencyParams, great_circle_km, path_rtt_ms
from .subnets import SubnetAllocationError, allocate

__all__ = ["Link", "Topology", "Zone", "build_topology", "link_between"]

EDGE_KINDS = frozenset({ZoneType.LOCAL, ZoneType.WAVELENGTH, ZoneType.OUTPOST})


class Link:
    """How two zones are connected (the value of :meth:`Topology.link`)."""

    SAME_ZONE = "same-zone"
    REGION_MESH = "region-mesh"  # AZ <-> AZ
    SERVICE_LINK = "service-link"  # edge zone <-> its parent Region
    LOCAL_GATEWAY = "local-gateway"  # Outpost <-> Outpost with intra-VPC communication
    NONE = "none"


def link_between(a: str, a_kind: ZoneType, b: str, b_kind: ZoneType, *, outpost_intra_vpc: bool) -> str:
    """How traffic gets from zone ``a`` to zone ``b``, from their names and kinds alone.

    The one statement of the network model; :meth:`Topology.link` and the in-cluster
    controller (which learns zones from node labels, not from a spec) both ask it.
    """
    if a == b:
        return Link.SAME_ZONE
    a_region = a_kind is ZoneType.AVAILABILITY_ZONE
    b_region = b_kind is ZoneType.AVAILABILITY_ZONE
    if a_region and b_region:
        return Link.REGION_MESH
    if a_region != b_region:
        return Link.SERVICE_LINK  # edge <-> parent Region (hub and spoke)
    if a_kind is ZoneType.OUTPOST and b_kind is ZoneType.OUTPOST and outpost_intra_vpc:
        return Link.LOCAL_GATEWAY  # directly over the LGWs, never hairpinned via the Region
    return Link.NONE  # edge <-> another edge zone: blocked


@dataclass(frozen=True)
class Zone:
    name: str
    kind: ZoneType
    index: int  # position in spec.zones
    region: str
    group: str | None  # opt-in zone group; None for AZs and Outposts
    network_border_group: str
    metro: str
    lat: float
    lon: float
    location_known: bool
    subnet_cidr: str | None
    subnet_id: str | None
    node_group: NodeGroupSpec | None
    carrier_ip: bool
    carrier: str | None = None
    outpost_arn: str | None = None
    parent_zone: str | None = None
    #: Local Zones in a VPC edgewise creates: the zone's public subnet (route to the
    #: internet gateway) that holds its internet-facing ALB; None everywhere else
    public_cidr: str | None = None
    #: Outposts: customer-owned IP pool for internet-facing ALBs (None: ALBs are internal)
    coip_pool: str | None = None
    #: Outposts: local gateway and its route table (outpostIntraVpc)
    local_gateway_id: str | None = None
    local_gateway_route_table_id: str | None = None

    @property
    def is_edge(self) -> bool:
        return self.kind in EDGE_KINDS

    @property
    def is_region(self) -> bool:
        return self.kind is ZoneType.AVAILABILITY_ZONE

    @property
    def k8s_zone(self) -> str:
        """Value of ``topology.kubernetes.io/zone`` on this zone's nodes.

        Outpost subnets live in the Outpost's parent AZ, so Outpost nodes carry the
        parent AZ name; edgewise adds its own zone label to tell them apart.
        """
        return self.parent_zone if self.kind is ZoneType.OUTPOST and self.parent_zone else self.name

    @property
    def slug(self) -> str:
        """Short, stable, DNS-1123 name part: the zone name without its Region prefix."""
        return zone_slug(self.name, self.region, self.kind)

    @property
    def volume_type(self) -> str:
        if self.node_group and self.node_group.volume_type:
            return self.node_group.volume_type
        return "gp2" if self.kind in (ZoneType.WAVELENGTH, ZoneType.OUTPOST) else "gp3"


@dataclass(frozen=True)
class Topology:
    name: str
    region: str
    region_metro: str
    region_lat: float
    region_lon: float
    kubernetes_version: str
    endpoint_access: EndpointAccess
    vpc_cidr: str | None
    vpc_id: str | None
    zones: tuple[Zone, ...]
    outpost_intra_vpc: bool
    public_subnets: tuple[tuple[str, str], ...]  # (AZ name, CIDR) for NAT/ALB; Local Zones: Zone.public_cidr
    latency_overrides: dict[str, LatencyOverride] = field(default_factory=dict)
    params: LatencyParams = field(default_factory=LatencyParams)
    #: CIDRs allowed on the public API endpoint; None: the operator's address (private
    #: endpoint, found at deploy time) or anywhere (public endpoints)
    public_access_cidrs: tuple[str, ...] | None = None
    log_types: tuple[str, ...] = ("audit", "authenticator")
    log_retention_days: int = 30
    secrets_encryption: bool = True
    secrets_key_arn: str | None = None  # None + secrets_encryption: the network stack makes a key
    carrier_gateway_id: str | None = None  # existing VPC: reuse this carrier gateway
    existing_endpoints: dict[str, str] = field(default_factory=dict)  # service -> vpce id

    # -- lookup --------------------------------------------------------------------
    @cached_property
    def _by_name(self) -> dict[str, Zone]:
        return {z.name: z for z in self.zones}

    def zone(self, name: str) -> Zone:
        try:
            return self._by_name[name]
        except KeyError:
            raise KeyError(f"zone {name!r} is not in topology {self.name!r}") from None

    def has_zone(self, name: str) -> bool:
        return name in self._by_name

    @property
    def region_zones(self) -> tuple[Zone, ...]:
        return tuple(z for z in self.zones if z.is_region)

    @property
    def edge_zones(self) -> tuple[Zone, ...]:
        return tuple(z for z in self.zones if z.is_edge)

    def of_kind(self, kind: ZoneType) -> tuple[Zone, ...]:
        return tuple(z for z in self.zones if z.kind is kind)

    @property
    def private_endpoint(self) -> bool:
        return self.endpoint_access is not EndpointAccess.PUBLIC

    @property
    def public_endpoint(self) -> bool:
        return self.endpoint_access is not EndpointAccess.PRIVATE

    @property
    def private_wavelength(self) -> tuple[Zone, ...]:
        """Wavelength Zones whose nodes have no Carrier IP (no way out but the VPC endpoints)."""
        return tuple(z for z in self.of_kind(ZoneType.WAVELENGTH) if not z.carrier_ip)

    @property
    def needs_endpoints(self) -> bool:
        """VPC endpoints: for a private API endpoint, or for Wavelength nodes without a Carrier IP."""
        return self.private_endpoint or bool(self.private_wavelength)

    # -- the network ---------------------------------------------------------------
    @cached_property
    def _links(self) -> dict[tuple[str, str], str]:
        """:meth:`link` of zone names already asked (check asks the same few pairs of
        zones thousands of times)."""
        return {}

    def link(self, a: Zone | str, b: Zone | str) -> str:
        """How traffic gets from zone ``a`` to zone ``b`` (a :class:`Link` value)."""
        if isinstance(a, str) and isinstance(b, str):
            found = self._links.get((a, b))
            if found is None:
                found = self._links[(a, b)] = self.link(self.zone(a), self.zone(b))
            return found
        za = a if isinstance(a, Zone) else self.zone(a)
        zb = b if isinstance(b, Zone) else self.zone(b)
        return link_between(za.name, za.kind, zb.name, zb.kind, outpost_intra_vpc=self.outpost_intra_vpc)

    def reachable(self, a: Zone | str, b: Zone | str) -> bool:
        if type(a) is str and type(b) is str:  # link's memo read here: check asks this per endpoint
            found = self._links.get((a, b))
            return (found if found is not None else self.link(a, b)) != Link.NONE
        return self.link(a, b) != Link.NONE

    def explain(self, a: Zone | str, b: Zone | str) -> str:
        """One sentence on why ``a`` can or cannot reach ``b``."""
        za = a if isinstance(a, Zone) else self.zone(a)
        zb = b if isinstance(b, Zone) else self.zone(b)
        link = self.link(za, zb)
        return {
            Link.SAME_ZONE: f"{za.name} is the same zone",
            Link.REGION_MESH: f"Region AZs {za.name} and {zb.name} form a full mesh",
            Link.SERVICE_LINK: f"{za.name} and {zb.name} connect over the service link (hub and spoke)",
            Link.LOCAL_GATEWAY: f"Outposts {za.name} and {zb.name} talk over their local gateways (intra-VPC)",
            Link.NONE: (
                f"{za.kind.value} zone {za.name} cannot reach {zb.kind.value} zone {zb.name}: "
                + ("Outposts reach each other only with outpostIntraVpc, never through the Region"
                   if za.kind is ZoneType.OUTPOST and zb.kind is ZoneType.OUTPOST
                   else "edge zones reach only themselves and the parent Region")
            ),
        }[link]

    # -- latency -------------------------------------------------------------------
    def _distance(self, a: Zone, b: Zone) -> float:
        return great_circle_km(a.lat, a.lon, b.lat, b.lon)

    def rtt_ms(self, a: Zone | str, b: Zone | str, *, physical: bool = False) -> float | None:
        """Round trip between pods in ``a`` and ``b``; None when unreachable."""
        za = a if isinstance(a, Zone) else self.zone(a)
        zb = b if isinstance(b, Zone) else self.zone(b)
        p = self.params
        link = self.link(za, zb)
        if link == Link.NONE:
            return None
        if link == Link.SAME_ZONE:
            return 0.0 if physical else p.intra_zone_ms
        dist = self._distance(za, zb)
        if link == Link.REGION_MESH:
            rtt = path_rtt_ms(dist, 0.0, p, physical=physical)
            return rtt if physical else max(p.inter_az_ms, rtt)
        if link == Link.LOCAL_GATEWAY:
            return path_rtt_ms(dist, p.outpost_lgw_ms, p, physical=physical)
        edge = za if za.is_edge else zb
        override = self.latency_overrides.get(edge.name)
        if not physical and override is not None and override.region is not None:
            return override.region
        overhead = p.outpost_link_ms if edge.kind is ZoneType.OUTPOST else p.service_link_ms
        # the Region AZs sit in the Region metro; add the intra-Region floor
        return path_rtt_ms(dist, overhead + p.intra_zone_ms, p, physical=physical)

    def user_rtt_ms(self, users: Zone | str, entry: Zone | str, *, physical: bool = False) -> float | None:
        """Round trip from users in the metro of ``users`` to an entry point in ``entry``.

        Wavelength users are 5G subscribers of that zone's carrier; everyone else is on
        the internet. Carrier IPs are reachable only from the carrier network, so an
        internet user cannot enter through a Wavelength Zone (None).
        """
        zu = users if isinstance(users, Zone) else self.zone(users)
        ze = entry if isinstance(entry, Zone) else self.zone(entry)
        p = self.params
        on_5g = zu.kind is ZoneType.WAVELENGTH
        if ze.kind is ZoneType.WAVELENGTH and not on_5g:
            return None
        dist = self._distance(zu, ze)
        if physical:
            return path_rtt_ms(dist, 0.0, p, physical=True)
        override = self.latency_overrides.get(ze.name)
        if zu.name == ze.name and override is not None and override.users is not None:
            return override.users
        if ze.kind is ZoneType.WAVELENGTH:
            access = p.access_5g_ms
        elif on_5g:
            access = p.access_5g_ms + p.carrier_egress_ms
        else:
            access = p.access_internet_ms
        return path_rtt_ms(dist, access, p, physical=False)


def _uncatalogued_region(name: str, zones: Sequence[ZoneSpec]) -> CatalogRegion:
    """A Region the catalog lacks: located at the first Region AZ that gives a location
    (semantic validation requires one)."""
    for z in zones:
        if z.type is ZoneType.AVAILABILITY_ZONE and z.location is not None:
            return CatalogRegion(name=name, metro=z.metro or name, lat=z.location.lat, lon=z.location.lon)
    raise ValueError(f"Region {name} is not in the catalog and no Availability Zone gives a location")


def build_topology(spec: Spec) -> Topology:
    """Resolve the spec's zones against the catalog and allocate subnets."""
    cat = load_catalog()
    t = spec.topology.spec
    doc = spec.topology_doc
    region = cat.regions.get(t.region) or _uncatalogued_region(t.region, t.zones)
    types = {z.name: resolve_zone_type(z.name, z.type, t.region) for z in t.zones}
    azs = [z.name for z in t.zones if types[z.name] is ZoneType.AVAILABILITY_ZONE]
    lzs = [z.name for z in t.zones if types[z.name] is ZoneType.LOCAL]  # each gets a public subnet too

    primary: list[str | None] = [z.subnet.cidr if z.subnet else None for z in t.zones]
    public: list[str] = []
    if t.vpc.cidr is not None:
        try:
            got, public = allocate(t.vpc.cidr, t.vpc.subnet_prefix_length, primary, len(azs), len(lzs))
            primary = list(got)
        except SubnetAllocationError as exc:
            raise InputError([doc.problem(("spec", "vpc", "cidr"), f"VPC too small: {exc}",
                                          "use a larger vpc.cidr, or a larger vpc.subnetPrefixLength "
                                          "(smaller subnets), or give zones explicit subnet.cidr")]) from None
    lz_public = dict(zip(lzs, public[len(azs):], strict=False))

    zones: list[Zone] = []
    for i, z in enumerate(t.zones):
        kind = types[z.name]
        assert kind is not None  # semantic validation guarantees it
        entry = cat.zones.get(z.name)
        parent = cat.zones.get(z.parent_zone) if z.parent_zone else None
        if z.location is not None:
            lat, lon, known = z.location.lat, z.location.lon, True
        elif entry is not None:
            lat, lon, known = entry.lat, entry.lon, True
        elif parent is not None:
            lat, lon, known = parent.lat, parent.lon, True
        else:
            lat, lon, known = region.lat, region.lon, kind is ZoneType.AVAILABILITY_ZONE
        metro = z.metro or (entry.metro if entry else (parent.metro if parent else region.metro))
        if kind is ZoneType.WAVELENGTH:
            default_group = entry.group if entry else z.name.rsplit("-", 3)[0]
        elif kind is ZoneType.LOCAL:
            default_group = entry.group if entry else z.name.rstrip("abcdefghijklmnopqrstuvwxyz")
        else:
            default_group = None
        # Carrier IPs by default in every Wavelength Zone: the carrier gateway is the zone's
        # only way out, so without one a node cannot pull public.ecr.aws or Docker Hub
        # images (carrierIp: false leaves ECR-only pulls through the VPC endpoints)
        carrier_ip = z.carrier_ip if z.carrier_ip is not None else kind is ZoneType.WAVELENGTH
        zones.append(Zone(
            name=z.name,
            kind=kind,
            index=i,
            region=t.region,
            group=default_group,
            network_border_group=(entry.network_border_group if entry else (default_group or t.region))
            if kind is not ZoneType.WAVELENGTH else z.name,
            metro=metro,
            lat=lat,
            lon=lon,
            location_known=known,
            subnet_cidr=primary[i],
            subnet_id=z.subnet.id if z.subnet else None,
            node_group=z.node_group,
            carrier_ip=carrier_ip,
            carrier=entry.carrier if entry else None,
            outpost_arn=z.outpost_arn,
            parent_zone=z.parent_zone,
            public_cidr=lz_public.get(z.name),
            coip_pool=z.customer_owned_ipv4_pool,
            local_gateway_id=z.local_gateway_id,
            local_gateway_route_table_id=z.local_gateway_route_table_id,
        ))
    return Topology(
        name=spec.topology.metadata.name,
        region=t.region,
        region_metro=region.metro,
        region_lat=region.lat,
        region_lon=region.lon,
        kubernetes_version=t.kubernetes_version,
        endpoint_access=t.endpoint_access,
        vpc_cidr=t.vpc.cidr if t.vpc.id is None else None,
        vpc_id=t.vpc.id,
        zones=tuple(zones),
        outpost_intra_vpc=t.outpost_intra_vpc,
        public_subnets=tuple(zip(azs, public[:len(azs)], strict=False)),
        latency_overrides=dict(t.latency_ms),
        public_access_cidrs=tuple(t.public_access_cidrs) if t.public_access_cidrs is not None else None,
        log_types=tuple(t.control_plane_logging.types),
        log_retention_days=t.control_plane_logging.retention_days,
        secrets_encryption=t.secrets_encryption.enabled,
        secrets_key_arn=t.secrets_encryption.key_arn,
        carrier_gateway_id=t.vpc.carrier_gateway_id,
        existing_endpoints=dict(t.vpc.endpoints),
    )
