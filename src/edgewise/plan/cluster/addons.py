"""``cluster/addons/``: what the cluster needs before edge workloads land on it.

* ``coredns-patch.yaml``: CoreDNS must run only in the Region. An edge pod that queries
  a CoreDNS pod in another edge zone fails (edge zones are spokes). The patch pins
  CoreDNS to Region nodes (nodeSelector on the Region node label), spreads replicas over
  distinct nodes (required anti-affinity on the hostname) and empties its tolerations so
  no future toleration lets it onto a tainted edge node. Applied with ``kubectl patch``
  (strategic merge: ``tolerations`` has no merge key, so the empty list replaces it).
* ``storageclass-gp2.yaml``: Wavelength Zones and Outposts offer gp2 only; volumes
  are bound where the pod is scheduled (WaitForFirstConsumer) and encrypted.
* ``aws-load-balancer-controller.values.yaml``: the controller that creates one ALB per
  zone from the application plan's Ingresses; it runs on Region nodes (``vpcId`` is
  passed with ``--set`` from the network stack).
* ``aws-node-termination-handler.values.yaml`` (with Outposts): queue mode, fed by the
  SQS queue and EventBridge rules of the network stack; it runs on Region nodes.
"""

from __future__ import annotations

from typing import Any

from ...topology import Topology
from ..artifacts import Artifact
from ..labels import REGION_NODE_LABEL
from .eksctl import NTH_MANAGED_TAG
from .names import LBC_SERVICE_ACCOUNT, NTH_SERVICE_ACCOUNT, has_outposts

__all__ = [
    "COREDNS_PATCH_PATH",
    "COREDNS_REPLICAS",
    "LBC_VALUES_PATH",
    "NTH_VALUES_PATH",
    "STORAGE_CLASS_NAME",
    "STORAGE_CLASS_PATH",
    "addon_artifacts",
    "coredns_patch",
    "gp2_storage_class",
    "lbc_values",
    "nth_values",
]

COREDNS_PATCH_PATH = "cluster/addons/coredns-patch.yaml"
STORAGE_CLASS_PATH = "cluster/addons/storageclass-gp2.yaml"
LBC_VALUES_PATH = "cluster/addons/aws-load-balancer-controller.values.yaml"
NTH_VALUES_PATH = "cluster/addons/aws-node-termination-handler.values.yaml"
STORAGE_CLASS_NAME = "edgewise-gp2"
COREDNS_REPLICAS = 2

Json = dict[str, Any]


def coredns_patch() -> Json:
    """Strategic-merge patch for the kube-system/coredns Deployment."""
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "coredns", "namespace": "kube-system"},
        "spec": {
            "replicas": COREDNS_REPLICAS,
            "template": {
                "spec": {
                    "nodeSelector": {REGION_NODE_LABEL: "true"},
                    "tolerations": [],
                    "affinity": {
                        "podAntiAffinity": {
                            "requiredDuringSchedulingIgnoredDuringExecution": [
                                {
                                    "labelSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
                                    "topologyKey": "kubernetes.io/hostname",
                                }
                            ]
                        }
                    },
                }
            },
        },
    }


def gp2_storage_class() -> Json:
    return {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {
            "name": STORAGE_CLASS_NAME,
            "annotations": {"edgewise.dev/purpose": "gp2 volumes for Wavelength Zones and Outposts"},
        },
        "provisioner": "ebs.csi.aws.com",
        "parameters": {"type": "gp2", "encrypted": "true"},
        "reclaimPolicy": "Delete",
        "allowVolumeExpansion": True,
        "volumeBindingMode": "WaitForFirstConsumer",
    }


def nth_values(topology: Topology) -> Json:
    """Helm values; ``queueURL`` is passed with ``--set`` from the network stack output."""
    return {
        "enableSqsTerminationDraining": True,
        "awsRegion": topology.region,
        "checkTagBeforeDraining": True,
        "managedTag": NTH_MANAGED_TAG,
        "serviceAccount": {"create": False, "name": NTH_SERVICE_ACCOUNT},
        "nodeSelector": {REGION_NODE_LABEL: "true"},
    }


def lbc_values(topology: Topology) -> Json:
    """Helm values of the AWS Load Balancer Controller (service account made by eksctl)."""
    return {
        "clusterName": topology.name,
        "region": topology.region,
        "serviceAccount": {"create": False, "name": LBC_SERVICE_ACCOUNT},
        "nodeSelector": {REGION_NODE_LABEL: "true"},
    }


def addon_artifacts(topology: Topology) -> list[Artifact]:
    out = [
        Artifact(COREDNS_PATCH_PATH, docs=(coredns_patch(),)),
        Artifact(STORAGE_CLASS_PATH, docs=(gp2_storage_class(),)),
        Artifact(LBC_VALUES_PATH, docs=(lbc_values(topology),)),
    ]
    if has_outposts(topology):
        out.append(Artifact(NTH_VALUES_PATH, docs=(nth_values(topology),)))
    return out
