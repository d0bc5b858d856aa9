"""Typed models of the edgewise spec (``apiVersion: edgewise.dev/v1alpha1``).

Field names in YAML are camelCase (``kubernetesVersion``); Python attributes are
snake_case. Unknown fields are errors everywhere. Cross-field and catalog checks live in
:mod:`edgewise.spec.semantic`; these models check only shape, types and ranges.
"""

from __future__ import annotations

import ipaddress
import re
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator
from pydantic.alias_generators import to_camel

__all__ = [
    "API_VERSION",
    "Application",
    "ApplicationSpec",
    "EndpointAccess",
    "Expose",
    "Failover",
    "IngressKind",
    "LatencyOverride",
    "Location",
    "Metadata",
    "NodeGroupSpec",
    "Placement",
    "Resources",
    "Routing",
    "ServiceSpec",
    "SubnetSpec",
    "Taint",
    "Topology",
    "TopologySpec",
    "VpcSpec",
    "ZoneSpec",
    "ZoneType",
]

API_VERSION = "edgewise.dev/v1alpha1"
DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
K8S_VERSION = re.compile(r"^1\.(\d{1,2})$")
OUTPOST_ARN = re.compile(r"^arn:aws[a-z-]*:outposts:([a-z0-9-]+):(\d{12}):outpost/op-[0-9a-f]{8,17}$")


class _Model(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        alias_generator=to_camel,
        populate_by_name=True,
        frozen=True,
        str_strip_whitespace=True,
    )


def _dns_label(value: str) -> str:
    if len(value) > 63 or not DNS1123_LABEL.match(value):
        raise ValueError(
            "must be a DNS-1123 label: lower-case letters, digits and '-', "
            "starting and ending with a letter or digit, at most 63 characters"
        )
    return value


def _cidr(value: str) -> str:
    try:
        net = ipaddress.IPv4Network(value, strict=True)
    except ipaddress.NetmaskValueError as exc:
        raise ValueError(f"invalid IPv4 CIDR {value!r}: {exc}") from None
    except ValueError as exc:
        if "has host bits set" in str(exc):
            fixed = ipaddress.IPv4Network(value, strict=False)
            raise ValueError(f"{value!r} has host bits set; did you mean {fixed}?") from None
        raise ValueError(f"invalid IPv4 CIDR {value!r} (expected e.g. 10.0.0.0/16)") from None
    return str(net)


DnsLabel = Annotated[str, AfterValidator(_dns_label)]
Cidr = Annotated[str, AfterValidator(_cidr)]


class ZoneType(StrEnum):
    AVAILABILITY_ZONE = "availability-zone"
    LOCAL = "local"
    WAVELENGTH = "wavelength"
    OUTPOST = "outpost"


class EndpointAccess(StrEnum):
    PRIVATE = "private"
    PUBLIC = "public"
    PUBLIC_AND_PRIVATE = "public-and-private"


class Routing(StrEnum):
    CONSUL_ENTERPRISE = "consul-enterprise"
    CONSUL = "consul"
    ISTIO = "istio"
    KUBERNETES = "kubernetes"


class IngressKind(StrEnum):
    ALB = "alb"
    NONE = "none"


class Placement(StrEnum):
    EDGE_AND_REGION = "edge-and-region"
    EDGE = "edge"
    REGION = "region"


class Failover(StrEnum):
    REGION = "region"
    NONE = "none"


class Metadata(_Model):
    name: DnsLabel


class Location(_Model):
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)


class Taint(_Model):
    key: str = Field(min_length=1)
    value: str = ""
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] = "NoSchedule"


def _at_most(limit: int, unit: str, why: str) -> AfterValidator:
    """An upper bound whose error names the limit and where it comes from."""
    def check(value: int | None) -> int | None:
        if value is not None and value > limit:
            raise ValueError(f"at most {limit:,} {unit} ({why}); got {value:,}" if value < 10**30
                             else f"at most {limit:,} {unit} ({why}); got a {len(str(value))}-digit number")
        return value
    return AfterValidator(check)


#: Kubernetes supports clusters of at most 5,000 nodes
#: (https://kubernetes.io/docs/setup/best-practices/cluster-large/), so no node group of
#: one cluster can be larger
MAX_NODES = 5000
_NODES = _at_most(MAX_NODES, "nodes", "Kubernetes supports at most 5,000 nodes per cluster")
#: an EBS volume is at most 16 TiB for gp2/gp3/io1/st1/sc1
#: (https://docs.aws.amazon.com/ebs/latest/userguide/ebs-volume-types.html)
_VOLUME = _at_most(16384, "GiB", "the largest EBS volume is 16 TiB")
#: zones per topology and services per application: far above any real Region (a Region
#: has a few dozen zones; a VPC holds 200 subnets by default,
#: https://docs.aws.amazon.com/vpc/latest/userguide/amazon-vpc-limits.html), low enough
#: that a mistaken or hostile spec cannot make validation take minutes
MAX_ZONES = 1000
MAX_SERVICES = 1000


class NodeGroupSpec(_Model):
    instance_type: str = Field(min_length=1, pattern=r"^[a-z][a-z0-9-]*\.[a-z0-9]+$")
    desired: Annotated[int, Field(ge=0), _NODES]
    min: Annotated[int | None, Field(default=None, ge=0), _NODES] = None
    max: Annotated[int | None, Field(default=None, ge=0), _NODES] = None
    volume_type: Literal["gp2", "gp3", "io1", "io2", "st1", "sc1"] | None = None
    volume_size: Annotated[int, Field(ge=8), _VOLUME] = 80
    labels: dict[str, str] = Field(default_factory=dict)
    taints: list[Taint] = Field(default_factory=list)

    @property
    def min_size(self) -> int:
        return self.desired if self.min is None else self.min

    @property
    def max_size(self) -> int:
        return max(self.desired, self.min_size) if self.max is None else self.max


class SubnetSpec(_Model):
    cidr: Cidr | None = None
    id: str | None = Field(default=None, pattern=r"^subnet-[0-9a-f]{8,17}$")


class ZoneSpec(_Model):
    name: str = Field(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9-]*$")
    type: ZoneType | None = None
    node_group: NodeGroupSpec | None = None
    subnet: SubnetSpec | None = None
    carrier_ip: bool | None = None
    outpost_arn: str | None = None
    parent_zone: str | None = None
    location: Location | None = None
    metro: str | None = None

    @field_validator("outpost_arn")
    @classmethod
    def _arn(cls, value: str | None) -> str | None:
        if value is not None and not OUTPOST_ARN.match(value):
            raise ValueError(
                "not an Outpost ARN (expected arn:aws:outposts:<region>:<account>:outpost/op-<id>)"
            )
        return value


class VpcSpec(_Model):
    cidr: Cidr | None = None
    id: str | None = Field(default=None, pattern=r"^vpc-[0-9a-f]{8,17}$")
    subnet_prefix_length: int = Field(default=20, ge=16, le=28)


class LatencyOverride(_Model):
    region: float | None = Field(default=None, gt=0, le=1000)
    users: float | None = Field(default=None, gt=0, le=1000)


class TopologySpec(_Model):
    region: str = Field(pattern=r"^[a-z]{2}(-gov)?-[a-z]+-\d$")
    kubernetes_version: str = "1.31"
    endpoint_access: EndpointAccess = EndpointAccess.PRIVATE
    vpc: VpcSpec = Field(default_factory=lambda: VpcSpec(cidr="10.0.0.0/16"))
    zones: list[ZoneSpec] = Field(min_length=1, max_length=MAX_ZONES)
    outpost_intra_vpc: bool = False
    latency_ms: dict[str, LatencyOverride] = Field(default_factory=dict)

    @field_validator("kubernetes_version", mode="before")
    @classmethod
    def _version(cls, value: object) -> object:
        if isinstance(value, float):
            raise ValueError(
                f"YAML read this as the number {value}; quote it so that it stays a string"
            )
        if isinstance(value, str) and not K8S_VERSION.match(value.strip()):
            raise ValueError(f"{value!r} is not a Kubernetes minor version like \"1.31\"")
        return value


class Topology(_Model):
    api_version: Literal["edgewise.dev/v1alpha1"]
    kind: Literal["Topology"]
    metadata: Metadata
    spec: TopologySpec


class Expose(_Model):
    path: str = Field(default="/", pattern=r"^/")
    port: int | None = Field(default=None, ge=1, le=65535)


class Resources(_Model):
    cpu: str = Field(default="100m", pattern=r"^\d+(\.\d+)?m?$")
    memory: str = Field(default="128Mi", pattern=r"^\d+(Ki|Mi|Gi)?$")


class ServiceSpec(_Model):
    name: DnsLabel
    image: str = Field(min_length=1)
    port: int = Field(ge=1, le=65535)
    placement: Placement = Placement.EDGE_AND_REGION
    expose: Expose | None = None
    calls: list[str] = Field(default_factory=list)
    failover: Failover | None = None
    replicas: int = Field(default=1, ge=1, le=1000)
    region_replicas: int | None = Field(default=None, ge=1, le=1000)
    env: dict[str, str] = Field(default_factory=dict)
    resources: Resources = Field(default_factory=Resources)
    health_path: str | None = Field(default=None, pattern=r"^/")

    @property
    def effective_failover(self) -> Failover:
        """``region`` for edge copies that have a Region copy, unless told otherwise."""
        if self.failover is not None:
            return self.failover
        return Failover.REGION if self.placement is Placement.EDGE_AND_REGION else Failover.NONE

    @property
    def has_region_copy(self) -> bool:
        return self.placement is not Placement.EDGE

    @property
    def has_edge_copies(self) -> bool:
        return self.placement is not Placement.REGION


class ApplicationSpec(_Model):
    routing: Routing = Routing.KUBERNETES
    ingress: IngressKind = IngressKind.ALB
    dns: Literal["latency", "weighted"] = "latency"
    domain: str | None = Field(default=None, pattern=r"^([a-z0-9-]+\.)+[a-z]{2,}$")
    services: list[ServiceSpec] = Field(min_length=1, max_length=MAX_SERVICES)


class Application(_Model):
    api_version: Literal["edgewise.dev/v1alpha1"]
    kind: Literal["Application"]
    metadata: Metadata
    spec: ApplicationSpec
