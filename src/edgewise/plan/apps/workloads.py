"""Kubernetes workload objects for one copy of a service: Deployment, Service, PDB, Namespace.

Placement is expressed only with node labels and taints from :mod:`edgewise.plan.labels`
(the contract with the cluster plan), so ``check`` can infer the same placement back:

* edge copy in a Local/Wavelength Zone: required ``topology.kubernetes.io/zone In [zone]``;
* edge copy on an Outpost: required ``edgewise.dev/zone In [zone]`` -- Outpost nodes carry
  their parent AZ in ``topology.kubernetes.io/zone``, so that label would also admit the
  Region nodes of that AZ;
* Region copy: ``topology.kubernetes.io/zone In [Region AZs]`` AND ``edgewise.dev/role In
  [region]``, spread across AZs with ``nodeAffinityPolicy``/``nodeTaintsPolicy: Honor`` so the
  tainted edge nodes are never counted as spread domains.

Readiness probes matter: every failover mechanism (Consul health, Istio outlier detection
plus endpoint readiness, Route 53 target health) is driven by readiness.
"""

from __future__ import annotations

from typing import Any

from ...spec import SecretEnv, ServiceSpec, ZoneType
from ...topology import Topology, Zone
from .. import endpoints as E
from .. import labels as L
from .names import label_value

__all__ = [
    "COPY_LABEL",
    "NAME_LABEL",
    "PART_OF_LABEL",
    "SERVICE_LABEL",
    "deployment",
    "externalname_service",
    "managed_service",
    "namespace_object",
    "pdb",
    "pod_labels",
    "region_replicas",
    "selector",
    "service",
    "service_account",
    "statefulset",
]

NAME_LABEL = "app.kubernetes.io/name"
PART_OF_LABEL = "app.kubernetes.io/part-of"
SERVICE_LABEL = "edgewise.dev/service"
#: "edge" or "region": which copy a pod belongs to (Deployment selectors must not overlap)
COPY_LABEL = "edgewise.dev/copy"
PORT_NAME = "app"


def region_replicas(svc: ServiceSpec) -> int:
    """Region copies serve the Region's own users and every zone's failover: at least 2.

    A service that keeps data (``storage``) runs exactly as many pods as the spec says:
    each has its own volume, so extra replicas are extra stores, not extra capacity.
    """
    if svc.storage is not None:
        return svc.region_replicas or svc.replicas
    return svc.region_replicas or max(svc.replicas, 2)


def selector(app: str, svc: ServiceSpec) -> dict[str, str]:
    """What a Service selects: every pod of the service in its namespace, edge or Region copy."""
    return {PART_OF_LABEL: app, SERVICE_LABEL: svc.name}


def pod_labels(app: str, svc: ServiceSpec, zone: Zone | None) -> dict[str, str]:
    labels = {
        NAME_LABEL: svc.name,
        PART_OF_LABEL: app,
        SERVICE_LABEL: svc.name,
        COPY_LABEL: "region" if zone is None else "edge",
    }
    if zone is not None:
        # Istio's failoverPriority on edgewise.dev/zone compares caller and endpoint pod labels
        labels[L.ZONE_LABEL] = label_value(zone.name)
    return labels


def _match_labels(app: str, svc: ServiceSpec, zone: Zone | None, *, by_zone: bool = False) -> dict[str, str]:
    """What a copy's Deployment (and PDB) selects. ``by_zone``: the zone label too, where
    the copies of every zone share one namespace (their selectors must not overlap)."""
    match = {
        PART_OF_LABEL: app,
        SERVICE_LABEL: svc.name,
        COPY_LABEL: "region" if zone is None else "edge",
    }
    if by_zone and zone is not None:
        match[L.ZONE_LABEL] = label_value(zone.name)
    return match


def _meta(
    name: str,
    ns: str,
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": ns}
    if labels:
        meta["labels"] = labels
    if annotations:
        meta["annotations"] = annotations
    return meta


def namespace_object(name: str, labels: dict[str, str]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}


def _affinity(topology: Topology, zone: Zone | None) -> dict[str, Any]:
    if zone is None:
        exprs = [
            {
                "key": L.K8S_ZONE_LABEL,
                "operator": "In",
                "values": [z.name for z in topology.region_zones],
            },
            {"key": L.ROLE_LABEL, "operator": "In", "values": ["region"]},
        ]
    elif zone.kind is ZoneType.OUTPOST:
        exprs = [{"key": L.ZONE_LABEL, "operator": "In", "values": [zone.name]}]
    else:
        exprs = [{"key": L.K8S_ZONE_LABEL, "operator": "In", "values": [zone.name]}]
    return {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [{"matchExpressions": exprs}]
            }
        }
    }


def _tolerations(topology: Topology, zone: Zone | None) -> list[dict[str, str]]:
    """Tolerate exactly the taints of the nodes the copy is pinned to (edge taint on edge only)."""
    zones = topology.region_zones if zone is None else (zone,)
    out: list[dict[str, str]] = []
    for z in zones:
        for t in L.node_taints(z):
            tol = {"key": t["key"], "operator": "Equal", "value": t["value"], "effect": t["effect"]}
            if tol not in out:
                out.append(tol)
    return out


def _spread(match: dict[str, str], zone: Zone | None) -> list[dict[str, Any]]:
    def constraint(key: str, when: str) -> dict[str, Any]:
        return {
            "maxSkew": 1,
            "topologyKey": key,
            "whenUnsatisfiable": when,
            "labelSelector": {"matchLabels": dict(match)},
            "nodeAffinityPolicy": "Honor",
            "nodeTaintsPolicy": "Honor",
        }

    if zone is None:
        return [
            constraint(L.K8S_ZONE_LABEL, "DoNotSchedule"),
            constraint("kubernetes.io/hostname", "ScheduleAnyway"),
        ]
    if zone.kind is ZoneType.OUTPOST:
        # seed 004: spread across the Outpost's hosts (its fault domains)
        return [constraint("kubernetes.io/hostname", "ScheduleAnyway")]
    return []


def _probe(svc: ServiceSpec, *, liveness: bool = False) -> dict[str, Any]:
    """Readiness: fast (failover is driven by it). Liveness: the same check, patient -- it
    restarts a container that stopped answering for a minute, not one that is slow to start."""
    probe: dict[str, Any]
    if svc.health_path:
        probe = {"httpGet": {"path": svc.health_path, "port": svc.port}}
    else:
        probe = {"tcpSocket": {"port": svc.port}}
    if liveness:
        probe.update({"initialDelaySeconds": 30, "periodSeconds": 10, "failureThreshold": 6})
    else:
        probe.update({"initialDelaySeconds": 5, "periodSeconds": 5, "failureThreshold": 2})
    return probe


def memory_limit(svc: ServiceSpec) -> str:
    """The container's memory limit: given, or twice the request (same unit)."""
    if svc.resources.memory_limit:
        return svc.resources.memory_limit
    req = svc.resources.memory
    digits = req.rstrip("KMGi")
    return f"{int(digits) * 2}{req[len(digits):]}"


def _env(svc: ServiceSpec) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for k, v in sorted(svc.env.items()):
        if isinstance(v, SecretEnv):
            ref = v.value_from.secret_key_ref
            out.append({"name": k, "valueFrom": {"secretKeyRef": {"name": ref.name, "key": ref.key}}})
        else:
            out.append({"name": k, "value": v})
    return out


def pod_security_context(svc: ServiceSpec) -> dict[str, Any]:
    """Restricted by default (Pod Security Standards "restricted"): non-root, RuntimeDefault
    seccomp. ``securityContext`` in the spec overrides for images that need otherwise."""
    sec = svc.security_context
    ctx: dict[str, Any] = {}
    if sec.run_as_user is not None:
        ctx["runAsUser"] = sec.run_as_user
    if sec.run_as_group is not None:
        ctx["runAsGroup"] = sec.run_as_group
    if sec.fs_group is not None:
        ctx["fsGroup"] = sec.fs_group
    ctx["runAsNonRoot"] = sec.run_as_user != 0
    ctx["seccompProfile"] = {"type": "RuntimeDefault"}
    return ctx


def container_security_context(svc: ServiceSpec) -> dict[str, Any]:
    sec = svc.security_context
    caps: dict[str, Any] = {"drop": ["ALL"]}
    if sec.add_capabilities:
        caps["add"] = sorted(set(sec.add_capabilities))
    return {
        "allowPrivilegeEscalation": False,
        "capabilities": caps,
        "readOnlyRootFilesystem": sec.read_only_root_filesystem,
    }


def _pod_template(
    topology: Topology,
    app: str,
    svc: ServiceSpec,
    zone: Zone | None,
    match: dict[str, str],
    annotations: dict[str, str] | None,
    service_account: str | None,
    *,
    mesh_token: bool,
    volume: str | None = None,
    extra_labels: dict[str, str] | None = None,
) -> dict[str, Any]:
    container: dict[str, Any] = {
        "name": svc.name,
        "image": svc.image,
        "ports": [{"name": PORT_NAME, "containerPort": svc.port, "protocol": "TCP"}],
    }
    if svc.env:
        container["env"] = _env(svc)
    container["resources"] = {
        "requests": {"cpu": svc.resources.cpu, "memory": svc.resources.memory},
        "limits": {"memory": memory_limit(svc)},
    }
    container["readinessProbe"] = _probe(svc)
    container["livenessProbe"] = _probe(svc, liveness=True)
    container["securityContext"] = container_security_context(svc)
    if volume is not None and svc.storage is not None:
        container["volumeMounts"] = [{"name": volume, "mountPath": svc.storage.mount_path}]
    pod_spec: dict[str, Any] = {}
    if service_account:
        pod_spec["serviceAccountName"] = service_account
    # The token is mounted only where something in the pod calls the Kubernetes API: the
    # spec says so (apiAccess), or the Consul sidecar logs in to Consul's Kubernetes auth
    # method with it (consul login -bearer-token-file=/var/run/secrets/kubernetes.io/
    # serviceaccount/token, https://github.com/hashicorp/consul-k8s/issues/131).
    pod_spec["automountServiceAccountToken"] = svc.security_context.api_access or mesh_token
    pod_spec["securityContext"] = pod_security_context(svc)
    pod_spec["affinity"] = _affinity(topology, zone)
    tolerations = _tolerations(topology, zone)
    if tolerations:
        pod_spec["tolerations"] = tolerations
    spread = _spread(match, zone)
    if spread:
        pod_spec["topologySpreadConstraints"] = spread
    pod_spec["containers"] = [container]
    template_meta: dict[str, Any] = {"labels": pod_labels(app, svc, zone) | dict(extra_labels or {})}
    if annotations:
        template_meta["annotations"] = dict(annotations)
    return {"metadata": template_meta, "spec": pod_spec}


def deployment(
    topology: Topology,
    app: str,
    svc: ServiceSpec,
    ns: str,
    zone: Zone | None,
    *,
    name: str,
    replicas: int,
    annotations: dict[str, str] | None = None,
    service_account: str | None = None,
    mesh_token: bool = False,
    by_zone: bool = False,
    extra_labels: dict[str, str] | None = None,
) -> dict[str, Any]:
    """One copy of ``svc``: in edge zone ``zone``, or in the Region when ``zone`` is None.

    ``by_zone``: the selector names the zone (copies of every zone in one namespace);
    ``extra_labels``: more pod labels (Services that select across copies).
    """
    match = _match_labels(app, svc, zone, by_zone=by_zone)
    template = _pod_template(
        topology, app, svc, zone, match, annotations, service_account, mesh_token=mesh_token,
        extra_labels=extra_labels,
    )
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _meta(name, ns, pod_labels(app, svc, zone)),
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": match},
            "template": template,
        },
    }


DATA_VOLUME = "data"


def statefulset(
    topology: Topology,
    app: str,
    svc: ServiceSpec,
    ns: str,
    *,
    name: str,
    replicas: int,
    storage_class: str,
    annotations: dict[str, str] | None = None,
    service_account: str | None = None,
    mesh_token: bool = False,
) -> dict[str, Any]:
    """A Region service that keeps data: one PersistentVolumeClaim per pod.

    Each pod keeps its own volume across restarts and rescheduling (a Deployment's
    replicas would be independent empty stores behind one Service). The volumes are EBS
    volumes, bound in the AZ the pod is first scheduled to (WaitForFirstConsumer).
    """
    assert svc.storage is not None
    match = _match_labels(app, svc, None)
    template = _pod_template(
        topology, app, svc, None, match, annotations, service_account,
        mesh_token=mesh_token, volume=DATA_VOLUME,
    )
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": _meta(name, ns, pod_labels(app, svc, None)),
        "spec": {
            "serviceName": name,
            "replicas": replicas,
            "selector": {"matchLabels": match},
            "template": template,
            "volumeClaimTemplates": [
                {
                    "metadata": {"name": DATA_VOLUME},
                    "spec": {
                        "accessModes": ["ReadWriteOnce"],
                        "storageClassName": storage_class,
                        "resources": {"requests": {"storage": svc.storage.size}},
                    },
                }
            ],
        },
    }


def pdb(
    app: str, svc: ServiceSpec, ns: str, zone: Zone | None, *, name: str, by_zone: bool = False
) -> dict[str, Any]:
    """Keep all but one pod of a multi-replica copy through voluntary disruptions."""
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": _meta(name, ns, {PART_OF_LABEL: app, SERVICE_LABEL: svc.name}),
        "spec": {
            "maxUnavailable": 1,
            "selector": {"matchLabels": _match_labels(app, svc, zone, by_zone=by_zone)},
        },
    }


def service(
    app: str,
    svc: ServiceSpec,
    ns: str,
    *,
    name: str | None = None,
    extra_selector: dict[str, str] | None = None,
) -> dict[str, Any]:
    sel = selector(app, svc)
    if extra_selector:
        sel.update(extra_selector)
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _meta(name or svc.name, ns, {PART_OF_LABEL: app, SERVICE_LABEL: svc.name}),
        "spec": {
            "type": "ClusterIP",
            "selector": sel,
            "ports": [
                {"name": PORT_NAME, "port": svc.port, "targetPort": PORT_NAME, "protocol": "TCP"}
            ],
        },
    }


def managed_service(app: str, svc: ServiceSpec, ns: str, zone: Zone) -> dict[str, Any]:
    """Edge copy of ``svc`` whose endpoints the edgewise controller keeps (no selector).

    The selector annotation matches every copy of the service (all zones and the Region);
    the controller picks the zone's Ready pods, else the Region's. A Service without
    selector needs a numeric targetPort: the EndpointSlice carries the pods' port.
    """
    annotations = {
        E.ENDPOINTS_ANNOTATION: E.ENDPOINTS_MODE,
        E.SELECTOR_ANNOTATION: E.format_selector(selector(app, svc)),
        E.ZONE_ANNOTATION: zone.name,
    }
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _meta(svc.name, ns, {PART_OF_LABEL: app, SERVICE_LABEL: svc.name}, annotations),
        "spec": {
            "type": "ClusterIP",
            "ports": [{"name": PORT_NAME, "port": svc.port, "targetPort": svc.port, "protocol": "TCP"}],
        },
    }


def externalname_service(app: str, svc: ServiceSpec, ns: str, target_ns: str) -> dict[str, Any]:
    """``svc`` in ``ns`` as an alias of the Region copy's FQDN (short name works in ``ns``)."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _meta(svc.name, ns, {PART_OF_LABEL: app, SERVICE_LABEL: svc.name}),
        "spec": {
            "type": "ExternalName",
            "externalName": f"{svc.name}.{target_ns}.svc.cluster.local",
            "ports": [{"name": PORT_NAME, "port": svc.port, "protocol": "TCP"}],
        },
    }


def service_account(app: str, name: str, ns: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": _meta(name, ns, {PART_OF_LABEL: app}),
    }
