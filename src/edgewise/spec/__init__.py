"""The spec layer: YAML in, typed and validated models out."""

from .loader import Spec, load_spec
from .models import (
    API_VERSION,
    Application,
    EndpointAccess,
    Failover,
    IngressKind,
    Placement,
    Routing,
    SecretEnv,
    ServiceSpec,
    Topology,
    ZoneSpec,
    ZoneType,
)
from .yamlsource import Document, read_documents

__all__ = [
    "API_VERSION",
    "Application",
    "Document",
    "EndpointAccess",
    "Failover",
    "IngressKind",
    "Placement",
    "Routing",
    "SecretEnv",
    "ServiceSpec",
    "Spec",
    "Topology",
    "ZoneSpec",
    "ZoneType",
    "load_spec",
    "read_documents",
]
