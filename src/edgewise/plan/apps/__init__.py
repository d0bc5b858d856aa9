"""The application plan: per-zone workloads, east-west routing (four backends), per-zone ingress.

Entry point: :func:`plan_application`; :func:`objects` lists the generated Kubernetes and
mesh objects for ``check`` and ``simulate``.
"""

from .model import AppPlan, CallRoute, ServiceCopy, SitePlan, objects, objects_with_paths
from .names import consul_name, public_subnet_name, region_namespace, subnet_name, zone_namespace
from .plan import plan_application

__all__ = [
    "AppPlan",
    "CallRoute",
    "ServiceCopy",
    "SitePlan",
    "consul_name",
    "objects",
    "objects_with_paths",
    "plan_application",
    "public_subnet_name",
    "region_namespace",
    "subnet_name",
    "zone_namespace",
]
