"""CoreDNS as the Amazon EKS add-on installs it (before the plan's CoreDNS step).

The add-on's Deployment ``kube-system/coredns``: two replicas, labels ``k8s-app:
kube-dns`` and ``eks.amazonaws.com/component: coredns``, required node affinity on
``kubernetes.io/os: linux`` and ``kubernetes.io/arch`` amd64/arm64, a *preferred* pod
anti-affinity on the hostname, tolerations for ``CriticalAddonsOnly`` and the
control-plane taint, ``system-cluster-critical`` priority, and the ``kube-dns``
Service. https://docs.aws.amazon.com/eks/latest/userguide/managing-coredns.html
(what the add-on manages); the pod spec below follows the add-on's Deployment as it
runs on EKS. Nothing here keeps CoreDNS off edge nodes: that is the plan's job
(``cluster/addons/coredns-patch.yaml``), which verify then applies the way the
RUNBOOK does (``kubectl patch --type strategic``).
"""

from __future__ import annotations

from typing import Any

__all__ = ["COREDNS_LABELS", "eks_coredns"]

COREDNS_LABELS = {"k8s-app": "kube-dns", "eks.amazonaws.com/component": "coredns"}


def eks_coredns(region: str, cluster_dns: str = "10.96.0.10") -> list[dict[str, Any]]:
    """ServiceAccount, ConfigMap, Deployment and Service of the EKS CoreDNS add-on."""
    corefile = (
        ".:53 {\n    errors\n    health {\n        lameduck 5s\n      }\n    ready\n"
        "    kubernetes cluster.local in-addr.arpa ip6.arpa {\n      pods insecure\n"
        "      fallthrough in-addr.arpa ip6.arpa\n    }\n    prometheus :9153\n"
        "    forward . /etc/resolv.conf\n    cache 30\n    loop\n    reload\n    loadbalance\n}\n"
    )
    labels = {**COREDNS_LABELS, "kubernetes.io/name": "CoreDNS"}
    return [
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": "coredns", "namespace": "kube-system", "labels": dict(COREDNS_LABELS)},
        },
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "coredns", "namespace": "kube-system", "labels": dict(COREDNS_LABELS)},
            "data": {"Corefile": corefile},
        },
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "coredns", "namespace": "kube-system", "labels": labels},
            "spec": {
                "replicas": 2,
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}},
                "selector": {"matchLabels": dict(COREDNS_LABELS)},
                "template": {
                    "metadata": {"labels": dict(COREDNS_LABELS)},
                    "spec": {
                        "serviceAccountName": "coredns",
                        "priorityClassName": "system-cluster-critical",
                        "affinity": {
                            "nodeAffinity": {
                                "requiredDuringSchedulingIgnoredDuringExecution": {
                                    "nodeSelectorTerms": [
                                        {
                                            "matchExpressions": [
                                                {"key": "kubernetes.io/os", "operator": "In", "values": ["linux"]},
                                                {
                                                    "key": "kubernetes.io/arch",
                                                    "operator": "In",
                                                    "values": ["amd64", "arm64"],
                                                },
                                            ]
                                        }
                                    ]
                                }
                            },
                            "podAntiAffinity": {
                                "preferredDuringSchedulingIgnoredDuringExecution": [
                                    {
                                        "weight": 100,
                                        "podAffinityTerm": {
                                            "labelSelector": {
                                                "matchExpressions": [
                                                    {"key": "k8s-app", "operator": "In", "values": ["kube-dns"]}
                                                ]
                                            },
                                            "topologyKey": "kubernetes.io/hostname",
                                        },
                                    }
                                ]
                            },
                        },
                        "tolerations": [
                            {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"},
                            {"key": "CriticalAddonsOnly", "operator": "Exists"},
                        ],
                        "containers": [
                            {
                                "name": "coredns",
                                "image": f"602401143452.dkr.ecr.{region}.amazonaws.com/eks/coredns:v1.11.4-eksbuild.2",
                                "args": ["-conf", "/etc/coredns/Corefile"],
                                "ports": [
                                    {"name": "dns", "containerPort": 53, "protocol": "UDP"},
                                    {"name": "dns-tcp", "containerPort": 53, "protocol": "TCP"},
                                    {"name": "metrics", "containerPort": 9153, "protocol": "TCP"},
                                ],
                                "resources": {
                                    "requests": {"cpu": "100m", "memory": "70Mi"},
                                    "limits": {"memory": "170Mi"},
                                },
                                "volumeMounts": [
                                    {"name": "config-volume", "mountPath": "/etc/coredns", "readOnly": True}
                                ],
                            }
                        ],
                        "volumes": [
                            {
                                "name": "config-volume",
                                "configMap": {"name": "coredns", "items": [{"key": "Corefile", "path": "Corefile"}]},
                            }
                        ],
                    },
                },
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "kube-dns", "namespace": "kube-system", "labels": labels},
            "spec": {
                "selector": {"k8s-app": "kube-dns"},
                "clusterIP": cluster_dns,
                "ports": [
                    {"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 53},
                    {"name": "dns-tcp", "port": 53, "protocol": "TCP", "targetPort": 53},
                ],
            },
        },
    ]
