"""The service meshes the applications route with, as the plan installs them: the
pinned versions and the Helm values of consul-k8s and istiod (the RUNBOOK's install steps
are :mod:`.install`'s; the application plan writes these values files, and imports this
module without the RUNBOOK's).

Sources:

* consul-k8s Helm values and Enterprise install: https://developer.hashicorp.com/consul/
  docs/k8s/helm and https://developer.hashicorp.com/consul/docs/k8s/deployment-configurations/
  consul-enterprise (licence Secret ``consul-ent-license``/``key``, ``global.image`` an
  ``-ent`` tag, ``global.enterpriseLicense``);
* version pairing: https://developer.hashicorp.com/consul/docs/k8s/compatibility (Consul
  1.21.x <-> consul-k8s 1.8.x, Kubernetes 1.30-1.34);
* Istio with Helm: https://istio.io/latest/docs/setup/install/helm/ (``base`` holds the
  CRDs and goes first, then ``istiod``).
"""

from __future__ import annotations

from typing import Any

from ...spec import Routing
from ...topology import Topology
from .. import labels as L
from ..cluster.addons import STORAGE_CLASS_NAME

__all__ = [
    "CONSUL_CHART_VERSION",
    "CONSUL_CRDS",
    "CONSUL_ENTERPRISE_IMAGE",
    "CONSUL_IMAGE",
    "CONSUL_NAMESPACE",
    "ISTIO_CRDS",
    "ISTIO_VERSION",
    "LICENSE_SECRET",
    "consul_values",
    "istiod_values",
]

CONSUL_CHART_VERSION = "1.8.8"
CONSUL_IMAGE = "hashicorp/consul:1.21.5"
CONSUL_ENTERPRISE_IMAGE = "hashicorp/consul-enterprise:1.21.5-ent"
CONSUL_NAMESPACE = "consul"
LICENSE_SECRET = "consul-ent-license"
#: the release the Istio lab proves the backend on (tests/istio_lab.py, tools/go/istio), whose
#: commit the lab also takes the `base` and `istiod` charts from (tools/go/istio/RELEASE;
#: tests/test_verify.py keeps the two equal)
ISTIO_VERSION = "1.29.1"
CONSUL_CRDS = ("servicedefaults", "serviceintentions", "serviceresolvers")
ISTIO_CRDS = ("destinationrules.networking.istio.io",)


def consul_values(topology: Topology, routing: Routing) -> dict[str, Any]:
    """Helm values for consul-k8s: secure by default, servers and control plane in the Region.

    ACLs (``global.acls.manageSystemACLs``), TLS with auto-encrypt and verification, and
    gossip encryption with a generated key are on; servers keep their data on the plan's
    encrypted gp2 StorageClass (EKS from 1.30 on has no default StorageClass).
    """
    region_nodes = sum(z.node_group.desired for z in topology.region_zones if z.node_group)
    region_selector = f"{L.ROLE_LABEL}: region\n"
    enterprise = routing is Routing.CONSUL_ENTERPRISE
    glob: dict[str, Any] = {
        "name": "consul",
        "image": CONSUL_ENTERPRISE_IMAGE if enterprise else CONSUL_IMAGE,
    }
    if enterprise:
        glob["enableConsulNamespaces"] = True
        glob["enterpriseLicense"] = {"secretName": LICENSE_SECRET, "secretKey": "key"}
    glob["acls"] = {"manageSystemACLs": True}
    glob["tls"] = {"enabled": True, "enableAutoEncrypt": True, "verify": True, "httpsOnly": True}
    glob["gossipEncryption"] = {"autoGenerate": True}
    values: dict[str, Any] = {"global": glob}
    values["server"] = {
        "replicas": 3 if region_nodes >= 3 else 1,
        "storageClass": STORAGE_CLASS_NAME,
        "nodeSelector": region_selector,
    }
    inject: dict[str, Any] = {"enabled": True, "default": False, "nodeSelector": region_selector}
    if enterprise:
        # Consul namespaces mirror Kubernetes namespaces (no prefix): the resolvers'
        # namespace fields name Kubernetes namespaces as they are
        inject["consulNamespaces"] = {"mirroringK8S": True}
    values["connectInject"] = inject
    return values


def istiod_values() -> dict[str, Any]:
    """istiod on Region nodes only (like CoreDNS: an edge zone cannot reach its siblings)."""
    return {"pilot": {"nodeSelector": {L.REGION_NODE_LABEL: "true"}}}
