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

from pydantic import AfterValidator, BaseModel, ConfigDict, Discriminator, Field, Tag, field_validator
from pydantic.alias_generators import to_camel

__all__ = [
    "API_VERSION",
    "ENDPOINT_SERVICES",
    "LOG_RETENTION_DAYS",
    "LOG_TYPES",
    "MAX_NODES_PER_CLUSTER",
    "Application",
    "ApplicationSpec",
    "ControlPlaneLogging",
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
    "SecretEnv",
    "SecretKeyRef",
    "SecretsEncryption",
    "SecuritySpec",
    "ServiceSpec",
    "Storage",
    "SubnetSpec",
    "Taint",
    "Tls",
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
KMS_KEY_ARN = re.compile(
    r"^arn:aws[a-z-]*:kms:([a-z0-9-]+):(\d{12}):(key/[0-9a-f-]{36}|key/mrk-[0-9a-f]{32}|alias/[A-Za-z0-9/_-]+)$"
)
#: control-plane log types EKS knows (eksctl SupportedCloudWatchClusterLogTypes, v0.215.0
#: pkg/apis/eksctl.io/v1alpha5/cloudwatch.go)
LOG_TYPES = ("api", "audit", "authenticator", "controllerManager", "scheduler")
#: CloudWatch Logs retention values eksctl accepts (LogRetentionInDaysValues, same file)
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1827, 3653)


class _Model(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        alias_generator=to_camel,
        populate_by_name=True,
        frozen=True,
        str_strip_whitespace=True,
        # each model's validator is built when first used rather than at import: loading a
        # spec validates Topology and Application, whose schemas include the nested models,
        # so the ~25 nested validators are never built on their own (importing the spec
        # package and loading the 50 x 20 benchmark spec: ~106 -> ~94 ms of CPU)
        defer_build=True,
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
#: the same limit for the sum over every node group of a topology
MAX_NODES_PER_CLUSTER = MAX_NODES
_NODES = _at_most(MAX_NODES, "nodes", "Kubernetes supports at most 5,000 nodes per cluster")
#: an EBS volume is at most 16 TiB for gp2/gp3/io1/st1/sc1
#: (https://docs.aws.amazon.com/ebs/latest/userguide/ebs-volume-types.html)
_VOLUME = _at_most(16384, "GiB", "the largest EBS volume is 16 TiB")
#: zones per topology and services per application: far above any real Region (a Region
#: has a few dozen zones; a VPC holds 200 subnets by default,
#: https://docs.aws.amazon.com/vpc/latest/userguide/amazon-vpc-limits.html), low enough
#: that a mistaken or hostile spec cannot make validation take minutes. Zones: 1,000 edge
#: zones plus the Region's AZs (us-east-1 has six), the scale plan is measured at
#: (docs/performance.md)
MAX_ZONES = 1024
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
        """``max``, else room to scale out: twice the floor (at least one node more)."""
        if self.max is not None:
            return self.max
        floor = max(self.desired, self.min_size)
        return min(MAX_NODES_PER_CLUSTER, max(2 * floor, floor + 1))


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
    #: Outposts with outpostIntraVpc: the Outpost's local gateway and its route table
    local_gateway_id: str | None = Field(default=None, pattern=r"^lgw-[0-9a-f]{8,17}$")
    local_gateway_route_table_id: str | None = Field(default=None, pattern=r"^lgw-rtb-[0-9a-f]{8,17}$")
    location: Location | None = None
    metro: str | None = None
    #: Outposts: the customer-owned IP pool an internet-facing ALB takes its addresses
    #: from; without one, the Outpost's ALBs are internal
    customer_owned_ipv4_pool: str | None = Field(default=None, pattern=r"^ipv4pool-coip-[0-9a-f]{8,17}$")

    @field_validator("outpost_arn")
    @classmethod
    def _arn(cls, value: str | None) -> str | None:
        if value is not None and not OUTPOST_ARN.match(value):
            raise ValueError(
                "not an Outpost ARN (expected arn:aws:outposts:<region>:<account>:outpost/op-<id>)"
            )
        return value


VPC_ENDPOINT_ID = r"^vpce-[0-9a-f]{8,17}$"
#: VPC endpoint services a plan may create (interface endpoints, plus the S3 gateway
#: endpoint); an existing VPC names the ones it already has under ``vpc.endpoints``
ENDPOINT_SERVICES = (
    "autoscaling", "ec2", "ec2messages", "ecr.api", "ecr.dkr", "eks", "elasticloadbalancing",
    "logs", "s3", "sqs", "ssm", "ssmmessages", "sts",
)


class VpcSpec(_Model):
    cidr: Cidr | None = None
    id: str | None = Field(default=None, pattern=r"^vpc-[0-9a-f]{8,17}$")
    subnet_prefix_length: int = Field(default=20, ge=16, le=28)
    #: existing VPC: its carrier gateway (a VPC has at most one), reused instead of created
    carrier_gateway_id: str | None = Field(default=None, pattern=r"^cagw-[0-9a-f]{8,17}$")
    #: existing VPC: endpoints it already has, by service (``ec2``, ``ecr.api``, ``s3``, ...)
    endpoints: dict[str, Annotated[str, Field(pattern=VPC_ENDPOINT_ID)]] = Field(default_factory=dict)


LogType = Literal["api", "audit", "authenticator", "controllerManager", "scheduler"]
#: on by default: who did what (audit) and who authenticated (authenticator); the api,
#: controllerManager and scheduler logs are far larger and cost more to keep
DEFAULT_LOG_TYPES: tuple[LogType, ...] = ("audit", "authenticator")


class ControlPlaneLogging(_Model):
    """EKS control-plane logs to CloudWatch (eksctl ``cloudWatch.clusterLogging``)."""

    types: list[LogType] = Field(default_factory=lambda: list(DEFAULT_LOG_TYPES))
    retention_days: int = 30

    @field_validator("retention_days")
    @classmethod
    def _retention(cls, value: int) -> int:
        if value not in LOG_RETENTION_DAYS:
            raise ValueError(
                f"{value} is not a CloudWatch Logs retention; use one of "
                + ", ".join(str(d) for d in LOG_RETENTION_DAYS)
            )
        return value


class SecretsEncryption(_Model):
    """Envelope encryption of Kubernetes Secrets with a KMS key (eksctl ``secretsEncryption``)."""

    enabled: bool = True
    #: an existing key; without one the network stack creates a key with rotation on
    key_arn: str | None = Field(default=None, pattern=KMS_KEY_ARN.pattern)


class LatencyOverride(_Model):
    region: float | None = Field(default=None, gt=0, le=1000)
    users: float | None = Field(default=None, gt=0, le=1000)


class TopologySpec(_Model):
    region: str = Field(pattern=r"^[a-z]{2}(-gov)?-[a-z]+-\d$")
    kubernetes_version: str = "1.31"
    endpoint_access: EndpointAccess = EndpointAccess.PRIVATE
    #: who may reach the public API endpoint; with endpointAccess private this limits the
    #: public endpoint eksctl needs while it creates the cluster (default: the operator's
    #: own address, found by the RUNBOOK)
    public_access_cidrs: list[Cidr] | None = Field(default=None, min_length=1, max_length=40)
    control_plane_logging: ControlPlaneLogging = Field(default_factory=ControlPlaneLogging)
    secrets_encryption: SecretsEncryption = Field(default_factory=SecretsEncryption)
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
    #: memory limit; default: twice the request (a pod without one can starve its node)
    memory_limit: str | None = Field(default=None, pattern=r"^\d+(Ki|Mi|Gi)?$")


class SecretKeyRef(_Model):
    name: DnsLabel
    key: str = Field(min_length=1, max_length=253, pattern=r"^[-._a-zA-Z0-9]+$")


class _ValueFrom(_Model):
    secret_key_ref: SecretKeyRef


class SecretEnv(_Model):
    """``{valueFrom: {secretKeyRef: {name, key}}}``: the value comes from a Secret in the
    copy's namespace (the RUNBOOK creates it in every namespace that needs it)."""

    value_from: _ValueFrom


#: union tags are not YAML keys: the loader drops error path segments in angle brackets
UNION_TAG_PREFIX = "<"


def _env_kind(value: object) -> str:
    return "<secret>" if isinstance(value, dict | SecretEnv) else "<literal>"


#: a literal value, or ``{valueFrom: {secretKeyRef: ...}}`` (one error, not one per union arm)
EnvValue = Annotated[
    Annotated[str, Tag("<literal>")] | Annotated[SecretEnv, Tag("<secret>")],
    Discriminator(_env_kind),
]


class Storage(_Model):
    """A service that keeps data: a StatefulSet with one PersistentVolumeClaim per pod."""

    size: str = Field(pattern=r"^[1-9]\d*(Mi|Gi|Ti)$")
    mount_path: str = Field(default="/data", pattern=r"^/")


CAPABILITY = r"^[A-Z][A-Z_]*$"


class SecuritySpec(_Model):
    """Overrides of the restricted pod security defaults, for images that need otherwise."""

    #: the UID the container runs as (0 = root, for images that must start as root)
    run_as_user: int | None = Field(default=None, ge=0, le=2147483647)
    run_as_group: int | None = Field(default=None, ge=0, le=2147483647)
    fs_group: int | None = Field(default=None, ge=0, le=2147483647)
    #: Linux capabilities added back after dropping ALL (e.g. NET_BIND_SERVICE)
    add_capabilities: list[Annotated[str, Field(pattern=CAPABILITY)]] = Field(default_factory=list)
    read_only_root_filesystem: bool = False
    #: mount the service account token: only for pods that call the Kubernetes API
    api_access: bool = False


class Tls(_Model):
    """HTTPS on the internet-facing ALBs; HTTP redirects to HTTPS."""

    certificate_arn: str | None = Field(
        default=None, pattern=r"^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate/[0-9a-f-]{36}$"
    )
    #: host name for the rules; with no certificateArn the controller discovers the ACM
    #: certificate by this host
    host: str | None = Field(default=None, pattern=r"^([a-z0-9*-]+\.)+[a-z]{2,}$")


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
    env: dict[Annotated[str, Field(pattern=r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")], EnvValue] = Field(
        default_factory=dict
    )
    resources: Resources = Field(default_factory=Resources)
    health_path: str | None = Field(default=None, pattern=r"^/")
    storage: Storage | None = None
    security_context: SecuritySpec = Field(default_factory=SecuritySpec)

    @field_validator("env", mode="before")
    @classmethod
    def _env(cls, value: object) -> object:
        if isinstance(value, dict):
            for k, v in value.items():
                if isinstance(v, bool | int | float) or v is None:
                    raise ValueError(
                        f"env {k}: YAML read {v!r} as a {type(v).__name__}; quote it so that it "
                        "stays a string"
                    )
        return value

    @property
    def secret_refs(self) -> list[tuple[str, SecretKeyRef]]:
        """(variable, Secret key) for every env value taken from a Secret."""
        return [
            (k, v.value_from.secret_key_ref)
            for k, v in sorted(self.env.items())
            if isinstance(v, SecretEnv)
        ]

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
    #: Route 53 policy for the internet-facing name: geoproximity (default: closest healthy
    #: ALB; Local Zones by LocalZoneGroup), weighted, or failover (edge ALBs primary, the
    #: Region ALB secondary); "latency" cannot deploy -- one latency record per Region, and
    #: every ALB is in the parent Region -- and is rejected with a fix
    dns: Literal["geoproximity", "weighted", "failover", "latency"] = "geoproximity"
    domain: str | None = Field(default=None, pattern=r"^([a-z0-9-]+\.)+[a-z]{2,}$")
    #: HTTPS on internet-facing ALBs
    tls: Tls | None = None
    services: list[ServiceSpec] = Field(min_length=1, max_length=MAX_SERVICES)


class Application(_Model):
    api_version: Literal["edgewise.dev/v1alpha1"]
    kind: Literal["Application"]
    metadata: Metadata
    spec: ApplicationSpec
