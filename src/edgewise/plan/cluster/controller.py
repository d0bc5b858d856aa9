"""Packaging of the edgewise controller for the ``kubernetes`` routing backend.

``cluster/addons/edgewise-controller.yaml`` holds, in apply order: the namespace, the
``EdgeApplication`` CustomResourceDefinition (its schema is the spec's own
``Application.spec`` model), the ServiceAccount and RBAC, the Deployment (2 replicas on
Region nodes, one leader elected through a coordination.k8s.io Lease) and a
PodDisruptionBudget that keeps one replica through voluntary disruptions.

The controller must run in the Region: it is the component that moves an edge zone's
traffic to the Region when the zone's pods go unready, so it must not share the zone's
fate, and every edge zone reaches the Region (hub and spoke) while no edge zone reaches
another.
"""

from __future__ import annotations

from typing import Any

from ... import __version__
from ...spec.models import ApplicationSpec
from ...topology import Topology
from .. import labels as L
from ..artifacts import Artifact
from ..endpoints import MANAGED_BY

__all__ = [
    "CONTROLLER_IMAGE",
    "CONTROLLER_NAMESPACE",
    "CONTROLLER_PATH",
    "CRD_GROUP",
    "CRD_PLURAL",
    "CRD_VERSION",
    "LEASE_NAME",
    "controller_artifact",
    "controller_objects",
    "edge_application_crd",
    "structural_schema",
]

CONTROLLER_PATH = "cluster/addons/edgewise-controller.yaml"
CONTROLLER_NAMESPACE = "edgewise-system"
CONTROLLER_NAME = "edgewise-controller"
#: built from this repository's Dockerfile and pushed to a registry the nodes can pull from
CONTROLLER_IMAGE = f"edgewise-controller:{__version__}"
LEASE_NAME = "edgewise-controller"
CRD_GROUP = "edgewise.dev"
CRD_VERSION = "v1alpha1"
CRD_PLURAL = "edgeapplications"
_LABELS = {"app.kubernetes.io/name": CONTROLLER_NAME, "app.kubernetes.io/part-of": "edgewise"}


def structural_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """A pydantic JSON Schema as a Kubernetes *structural* OpenAPI v3 schema.

    Inlines ``$ref``, turns ``anyOf [X, null]`` into ``X`` + ``nullable``, JSON Schema
    2020 ``exclusiveMinimum: n`` into ``minimum: n, exclusiveMinimum: true``, and drops
    what a CRD schema may not carry (``title``, ``default`` -- defaults are the model's
    job -- and ``additionalProperties: false``; unknown fields are pruned by the API
    server). https://kubernetes.io/docs/tasks/extend-kubernetes/custom-resources/custom-resource-definitions/#specifying-a-structural-schema
    """
    defs = schema.get("$defs", {})

    def conv(node: dict[str, Any]) -> dict[str, Any]:
        if "$ref" in node:
            target = defs[node["$ref"].rsplit("/", 1)[-1]]
            rest = {k: v for k, v in node.items() if k != "$ref"}
            return conv({**target, **rest})
        if "anyOf" in node:
            options = [o for o in node["anyOf"] if o.get("type") != "null"]
            nullable = len(options) < len(node["anyOf"])
            if len(options) != 1:
                raise ValueError(f"cannot express anyOf {node['anyOf']} in a structural schema")
            rest = {k: v for k, v in node.items() if k != "anyOf"}
            inner = conv({**options[0], **rest})
            if nullable:
                inner["nullable"] = True
            return inner
        out: dict[str, Any] = {}
        for key in ("type", "description", "enum", "pattern", "minimum", "maximum",
                    "minLength", "maxLength", "minItems", "maxItems", "required"):
            if key in node:
                out[key] = node[key]
        if "exclusiveMinimum" in node:
            out["minimum"], out["exclusiveMinimum"] = node["exclusiveMinimum"], True
        if "exclusiveMaximum" in node:
            out["maximum"], out["exclusiveMaximum"] = node["exclusiveMaximum"], True
        if "properties" in node:
            out["properties"] = {k: conv(v) for k, v in node["properties"].items()}
        if isinstance(node.get("additionalProperties"), dict):
            out["additionalProperties"] = conv(node["additionalProperties"])
        if "items" in node:
            out["items"] = conv(node["items"])
        if "type" not in out:
            raise ValueError(f"schema node without a type: {node}")
        return out

    return conv(schema)


def edge_application_crd() -> dict[str, Any]:
    """The ``EdgeApplication`` CRD: cluster-scoped (it owns per-zone namespaces)."""
    spec_schema = structural_schema(ApplicationSpec.model_json_schema(by_alias=True))
    condition = {
        "type": "object",
        "required": ["type", "status"],
        "properties": {
            "type": {"type": "string"},
            "status": {"type": "string", "enum": ["True", "False", "Unknown"]},
            "reason": {"type": "string"},
            "message": {"type": "string"},
            "lastTransitionTime": {"type": "string", "format": "date-time"},
        },
    }
    status = {
        "type": "object",
        "properties": {
            "ready": {"type": "string", "description": "zones whose every copy has a Ready pod / zones"},
            "zonesReady": {"type": "integer"},
            "zonesTotal": {"type": "integer"},
            "observedGeneration": {"type": "integer"},
            "conditions": {"type": "array", "items": condition},
            "zones": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["zone"],
                    "properties": {
                        "zone": {"type": "string"},
                        "kind": {"type": "string"},
                        "namespace": {"type": "string"},
                        "missingSince": {"type": "string", "format": "date-time"},
                        "conditions": {"type": "array", "items": condition},
                    },
                },
            },
        },
    }
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{CRD_PLURAL}.{CRD_GROUP}", "labels": dict(_LABELS)},
        "spec": {
            "group": CRD_GROUP,
            "scope": "Cluster",
            "names": {
                "plural": CRD_PLURAL,
                "singular": "edgeapplication",
                "kind": "EdgeApplication",
                "listKind": "EdgeApplicationList",
                "shortNames": ["edgeapp"],
            },
            "versions": [
                {
                    "name": CRD_VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": [
                        {"name": "Zones", "type": "string", "jsonPath": ".status.ready",
                         "description": "zones ready / zones with nodes"},
                        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
                    ],
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "required": ["spec"],
                            "properties": {
                                "apiVersion": {"type": "string"},
                                "kind": {"type": "string"},
                                "metadata": {"type": "object"},
                                "spec": spec_schema,
                                "status": status,
                            },
                        }
                    },
                }
            ],
        },
    }


def _rules() -> list[dict[str, Any]]:
    def rule(groups: list[str], resources: list[str], verbs: list[str]) -> dict[str, Any]:
        return {"apiGroups": groups, "resources": resources, "verbs": verbs}

    read = ["get", "list", "watch"]
    write = [*read, "create", "update", "patch", "delete"]
    return [
        rule([""], ["nodes", "pods"], read),
        rule([""], ["services", "namespaces", "serviceaccounts"], write),
        rule([""], ["events"], ["create", "patch"]),
        rule(["events.k8s.io"], ["events"], ["create", "patch"]),
        rule(["discovery.k8s.io"], ["endpointslices"], write),
        rule(["apps"], ["deployments"], write),
        rule(["policy"], ["poddisruptionbudgets"], write),
        rule([CRD_GROUP], [CRD_PLURAL], [*read, "patch", "update"]),
        rule([CRD_GROUP], [f"{CRD_PLURAL}/status"], ["get", "patch", "update"]),
        # kopf discovers the resources it serves
        rule(["apiextensions.k8s.io"], ["customresourcedefinitions"], read),
    ]


def _deployment(topology: Topology) -> dict[str, Any]:
    match = dict(_LABELS)
    args = ["controller", "run", "--namespace", CONTROLLER_NAMESPACE, "--lease", LEASE_NAME]
    if topology.outpost_intra_vpc:
        args.append("--outpost-intra-vpc")
    region_azs = [z.name for z in topology.region_zones]
    exprs: list[dict[str, Any]] = [{"key": L.ROLE_LABEL, "operator": "In", "values": ["region"]}]
    if region_azs:
        exprs.insert(0, {"key": L.K8S_ZONE_LABEL, "operator": "In", "values": region_azs})
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": CONTROLLER_NAME, "namespace": CONTROLLER_NAMESPACE, "labels": dict(_LABELS)},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": match},
            "template": {
                "metadata": {"labels": dict(match)},
                "spec": {
                    "serviceAccountName": CONTROLLER_NAME,
                    "affinity": {
                        "nodeAffinity": {
                            "requiredDuringSchedulingIgnoredDuringExecution": {
                                "nodeSelectorTerms": [{"matchExpressions": exprs}]
                            }
                        },
                        "podAntiAffinity": {
                            "requiredDuringSchedulingIgnoredDuringExecution": [
                                {"labelSelector": {"matchLabels": dict(match)},
                                 "topologyKey": "kubernetes.io/hostname"}
                            ]
                        },
                    },
                    "topologySpreadConstraints": [
                        {
                            "maxSkew": 1,
                            "topologyKey": L.K8S_ZONE_LABEL,
                            "whenUnsatisfiable": "ScheduleAnyway",
                            "labelSelector": {"matchLabels": dict(match)},
                            "nodeAffinityPolicy": "Honor",
                            "nodeTaintsPolicy": "Honor",
                        }
                    ],
                    "containers": [
                        {
                            "name": "controller",
                            "image": CONTROLLER_IMAGE,
                            "args": args,
                            "env": [
                                {"name": "POD_NAME",
                                 "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                            ],
                            "resources": {
                                "requests": {"cpu": "100m", "memory": "128Mi"},
                                "limits": {"memory": "512Mi"},
                            },
                            "securityContext": {
                                "allowPrivilegeEscalation": False,
                                "readOnlyRootFilesystem": True,
                                "runAsNonRoot": True,
                                "capabilities": {"drop": ["ALL"]},
                            },
                        }
                    ],
                },
            },
        },
    }


def controller_objects(topology: Topology) -> list[dict[str, Any]]:
    """Every object of the controller, in apply order."""
    ns = CONTROLLER_NAMESPACE
    meta = {"namespace": ns, "labels": dict(_LABELS)}
    return [
        {"apiVersion": "v1", "kind": "Namespace",
         "metadata": {"name": ns, "labels": {**_LABELS, L.ROLE_LABEL: "region"}}},
        edge_application_crd(),
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": CONTROLLER_NAME, **meta}},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
         "metadata": {"name": CONTROLLER_NAME, "labels": dict(_LABELS),
                      "annotations": {"edgewise.dev/endpointslice-manager": MANAGED_BY}},
         "rules": _rules()},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
         "metadata": {"name": CONTROLLER_NAME, "labels": dict(_LABELS)},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": CONTROLLER_NAME},
         "subjects": [{"kind": "ServiceAccount", "name": CONTROLLER_NAME, "namespace": ns}]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
         "metadata": {"name": f"{CONTROLLER_NAME}-leader-election", **meta},
         "rules": [{"apiGroups": ["coordination.k8s.io"], "resources": ["leases"],
                    "verbs": ["get", "list", "watch", "create", "update", "patch"]}]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
         "metadata": {"name": f"{CONTROLLER_NAME}-leader-election", **meta},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                     "name": f"{CONTROLLER_NAME}-leader-election"},
         "subjects": [{"kind": "ServiceAccount", "name": CONTROLLER_NAME, "namespace": ns}]},
        _deployment(topology),
        {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
         "metadata": {"name": CONTROLLER_NAME, **meta},
         "spec": {"minAvailable": 1, "selector": {"matchLabels": dict(_LABELS)}}},
    ]


def controller_artifact(topology: Topology) -> Artifact:
    return Artifact(CONTROLLER_PATH, docs=tuple(controller_objects(topology)))
