"""Synthetic workloads for the benchmarks: an edgewise spec and the equivalent kustomize tree.

``spec`` : Z edge zones declared with an explicit ``type`` and names outside the catalog,
two Region AZs, and S services with mixed placements and a call chain.
``kustomize`` : what a team would otherwise keep in git: one base (a Deployment and a
Service per service) and one overlay per zone (namespace + node-affinity patch), plus a
root kustomization listing every overlay. Same Deployments, Services and namespaces per
zone as edgewise's plan (edge services in every edge zone, Region services in the Region).
``chart`` : the Helm chart a platform team would write instead: one chart whose values
list the zones and the services, and whose templates loop over zones x services to
render the Namespaces, Deployments (zone node affinity + edge toleration), Services and
the Region's PodDisruptionBudgets that plan writes for the same spec, object for object
(``tests/test_bench_chart.py`` compares them).
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

import yaml

REGION = "us-east-1"


def placements(services: int) -> list[str]:
    """Mixed placements: mostly edge-and-region, some edge-only, some Region-only."""
    out = []
    for i in range(services):
        if i % 5 == 4:
            out.append("region")
        elif i % 7 == 6:
            out.append("edge")
        else:
            out.append("edge-and-region")
    return out


def zone_names(zones: int) -> list[str]:
    return [f"{REGION}-bench-{i:03d}a" for i in range(zones)]


def subnet_prefix(zones: int) -> int:
    """The largest subnets (at least /24) that fit every zone subnet, a public subnet per
    Local Zone (every fourth zone is a Wavelength Zone) and per Region AZ in a /16."""
    needed = zones + sum(1 for i in range(zones) if i % 4 != 3) + 2
    return max(24, 16 + math.ceil(math.log2(needed)))


def spec_documents(zones: int, services: int) -> list[dict[str, Any]]:
    zs: list[dict[str, Any]] = [
        {"name": f"{REGION}a", "nodeGroup": {"instanceType": "m6i.large", "desired": 3}},
        {"name": f"{REGION}b", "nodeGroup": {"instanceType": "m6i.large", "desired": 3}},
    ]
    for i, name in enumerate(zone_names(zones)):
        kind = "wavelength" if i % 4 == 3 else "local"
        z: dict[str, Any] = {"name": name, "type": kind,
                             "nodeGroup": {"instanceType": "c5.2xlarge", "desired": 1}}
        zs.append(z)
    places = placements(services)
    svcs: list[dict[str, Any]] = []
    for i, placement in enumerate(places):
        s: dict[str, Any] = {
            "name": f"svc-{i:03d}",
            "image": f"registry.example.com/bench/svc-{i:03d}:1.0.0",
            "port": 8000 + i,
            "placement": placement,
        }
        if i == 0:
            s["expose"] = {"path": "/"}
        nxt = i + 1
        if nxt < services:
            # a service with a Region copy can only call services that have one too
            while nxt < services and placement != "edge" and places[nxt] == "edge":
                nxt += 1
            if nxt < services:
                s["calls"] = [f"svc-{nxt:03d}"]
        svcs.append(s)
    topology = {
        "apiVersion": "edgewise.dev/v1alpha1",
        "kind": "Topology",
        "metadata": {"name": f"bench-{zones}x{services}"},
        "spec": {
            "region": REGION,
            "kubernetesVersion": "1.31",
            "endpointAccess": "private",
            # a /16 holds 256 /24s: each zone subnet plus a public subnet per Local Zone and
            # Region AZ must fit, so large sizes use smaller subnets (/25 at 200 zones, /27
            # at 1,000: 27 usable addresses each, docs/performance.md)
            "vpc": {"cidr": "10.0.0.0/16", "subnetPrefixLength": subnet_prefix(zones)},
            "zones": zs,
        },
    }
    app = {
        "apiVersion": "edgewise.dev/v1alpha1",
        "kind": "Application",
        "metadata": {"name": "bench"},
        "spec": {"routing": "kubernetes", "ingress": "alb", "services": svcs},
    }
    return [topology, app]


def write_spec(path: Path, zones: int, services: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump_all(spec_documents(zones, services), sort_keys=False))
    return path


def _deployment(name: str, port: int) -> dict[str, Any]:
    labels = {"app.kubernetes.io/name": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "containers": [{
                        "name": name,
                        "image": f"registry.example.com/bench/{name}:1.0.0",
                        "ports": [{"containerPort": port}],
                        "readinessProbe": {"tcpSocket": {"port": port}},
                        "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}},
                    }],
                },
            },
        },
    }


def _service(name: str, port: int) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name},
        "spec": {"selector": {"app.kubernetes.io/name": name},
                 "ports": [{"port": port, "targetPort": port}]},
    }


def write_kustomize(root: Path, zones: int, services: int) -> Path:
    """Write the kustomize tree; returns the directory to pass to `kubectl kustomize`."""
    places = placements(services)
    edge_svcs = [i for i, p in enumerate(places) if p != "region"]
    region_svcs = [i for i, p in enumerate(places) if p != "edge"]

    def base(dirname: str, idx: list[int]) -> None:
        d = root / dirname
        d.mkdir(parents=True, exist_ok=True)
        files = []
        for i in idx:
            name = f"svc-{i:03d}"
            (d / f"{name}.yaml").write_text(yaml.safe_dump_all(
                [_deployment(name, 8000 + i), _service(name, 8000 + i)], sort_keys=False))
            files.append(f"{name}.yaml")
        (d / "kustomization.yaml").write_text(yaml.safe_dump(
            {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
             "resources": files}, sort_keys=False))

    base("base-edge", edge_svcs)
    base("base-region", region_svcs)
    overlays = []
    targets = [(f"bench-{z.removeprefix(REGION + '-')}", [z], "base-edge") for z in zone_names(zones)]
    targets.append(("bench-region", [f"{REGION}a", f"{REGION}b"], "base-region"))
    for ns, zone_values, b in targets:
        d = root / "overlays" / ns
        d.mkdir(parents=True, exist_ok=True)
        (d / "namespace.yaml").write_text(yaml.safe_dump(
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}, sort_keys=False))
        patch = [{"op": "add", "path": "/spec/template/spec/affinity", "value": {
            "nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
                {"matchExpressions": [{"key": "topology.kubernetes.io/zone", "operator": "In",
                                       "values": zone_values}]}]}}}}]
        if b == "base-edge":
            patch.append({"op": "add", "path": "/spec/template/spec/tolerations", "value": [
                {"key": "edgewise.dev/edge", "operator": "Equal", "value": "true", "effect": "NoSchedule"}]})
        (d / "kustomization.yaml").write_text(yaml.safe_dump({
            "apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
            "namespace": ns,
            "resources": ["namespace.yaml", f"../../{b}"],
            "patches": [{"target": {"kind": "Deployment"}, "patch": yaml.safe_dump(patch)}],
        }, sort_keys=False))
        overlays.append(f"overlays/{ns}")
    (root / "kustomization.yaml").write_text(yaml.safe_dump(
        {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
         "resources": overlays}, sort_keys=False))
    return root


def namespace_of(zone: str) -> str:
    """The namespace plan gives an edge zone's copy of application ``bench``."""
    return f"bench-{zone.removeprefix(REGION + '-')}"


def chart_values(zones: int, services: int) -> dict[str, Any]:
    """The chart's values: the zones, the services and what each zone's copy is.

    An edge zone's copy of a service that also runs in the Region and is called by
    another service's edge copy fails over to the Region: its Service has no selector and names
    the pods of every copy for the edgewise controller (``failover``); a Region-only
    service is an ExternalName alias in each edge namespace."""
    places = placements(services)
    docs = spec_documents(zones, services)
    called = {c for s in docs[1]["spec"]["services"] if s["placement"] != "region" for c in s.get("calls", [])}
    svcs = []
    for s in docs[1]["spec"]["services"]:
        svcs.append({
            "name": s["name"], "image": s["image"], "port": s["port"], "placement": s["placement"],
            "calls": ",".join(s.get("calls", [])),
            "failover": s["placement"] == "edge-and-region" and s["name"] in called,
        })
    assert len(svcs) == len(places)
    return {
        "app": "bench",
        "edge": {"replicas": 1},
        "region": {"namespace": "bench-region", "replicas": 2, "zones": [f"{REGION}a", f"{REGION}b"]},
        "zones": [{"name": z, "namespace": namespace_of(z)} for z in zone_names(zones)],
        "services": svcs,
    }


_CHART_HELPERS = """\
{{- define "bench.labels" -}}
app.kubernetes.io/part-of: {{ .app }}
edgewise.dev/service: {{ .svc.name }}
{{- end }}

{{- define "bench.selector" -}}
{{ include "bench.labels" . }}
edgewise.dev/copy: {{ .copy }}
{{- end }}

{{- define "bench.podLabels" -}}
app.kubernetes.io/name: {{ .svc.name }}
{{ include "bench.selector" . }}
{{- with .zone }}
edgewise.dev/zone: {{ . }}
{{- end }}
{{- end }}

{{- define "bench.deployment" -}}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .svc.name }}
  namespace: {{ .namespace }}
  labels:
    {{- include "bench.podLabels" . | nindent 4 }}
spec:
  replicas: {{ .replicas }}
  selector:
    matchLabels:
      {{- include "bench.selector" . | nindent 6 }}
  template:
    metadata:
      labels:
        {{- include "bench.podLabels" . | nindent 8 }}
      {{- with .svc.calls }}
      annotations:
        edgewise.dev/calls: {{ . }}
      {{- end }}
    spec:
      automountServiceAccountToken: false
      securityContext:
        runAsNonRoot: true
        seccompProfile:
          type: RuntimeDefault
      affinity:
        nodeAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
            nodeSelectorTerms:
            - matchExpressions:
              - key: topology.kubernetes.io/zone
                operator: In
                values:
                {{- range .zones }}
                - {{ . }}
                {{- end }}
              {{- if not .zone }}
              - key: edgewise.dev/role
                operator: In
                values:
                - region
              {{- end }}
      {{- if .zone }}
      tolerations:
      - key: edgewise.dev/edge
        operator: Equal
        value: "true"
        effect: NoSchedule
      {{- else }}
      topologySpreadConstraints:
      {{- $spread := list (list "topology.kubernetes.io/zone" "DoNotSchedule") }}
      {{- range append $spread (list "kubernetes.io/hostname" "ScheduleAnyway") }}
      - maxSkew: 1
        topologyKey: {{ index . 0 }}
        whenUnsatisfiable: {{ index . 1 }}
        labelSelector:
          matchLabels:
            {{- include "bench.selector" $ | nindent 12 }}
        nodeAffinityPolicy: Honor
        nodeTaintsPolicy: Honor
      {{- end }}
      {{- end }}
      containers:
      - name: {{ .svc.name }}
        image: {{ .svc.image }}
        ports:
        - name: app
          containerPort: {{ .svc.port }}
          protocol: TCP
        resources:
          requests:
            cpu: 100m
            memory: 128Mi
          limits:
            memory: 256Mi
        readinessProbe:
          tcpSocket:
            port: {{ .svc.port }}
          initialDelaySeconds: 5
          periodSeconds: 5
          failureThreshold: 2
        livenessProbe:
          tcpSocket:
            port: {{ .svc.port }}
          initialDelaySeconds: 30
          periodSeconds: 10
          failureThreshold: 6
        securityContext:
          allowPrivilegeEscalation: false
          capabilities:
            drop:
            - ALL
          readOnlyRootFilesystem: false
{{- end }}

{{- define "bench.service" -}}
apiVersion: v1
kind: Service
metadata:
  name: {{ .svc.name }}
  namespace: {{ .namespace }}
  labels:
    {{- include "bench.labels" . | nindent 4 }}
  {{- if .failover }}
  annotations:
    edgewise.dev/endpoints: edge-failover
    edgewise.dev/endpoint-selector: app.kubernetes.io/part-of={{ .app }},edgewise.dev/service={{ .svc.name }}
    edgewise.dev/zone: {{ .zone }}
  {{- end }}
spec:
  type: ClusterIP
  {{- if not .failover }}
  selector:
    {{- include "bench.labels" . | nindent 4 }}
  {{- end }}
  ports:
  - name: app
    port: {{ .svc.port }}
    targetPort: {{ if .failover }}{{ .svc.port }}{{ else }}app{{ end }}
    protocol: TCP
{{- end }}
"""

# the Region's copies: one namespace, spread over the Region's AZs
_CHART_REGION = """\
{{- $v := .Values }}
---
apiVersion: v1
kind: Namespace
metadata:
  name: {{ $v.region.namespace }}
  labels:
    app.kubernetes.io/part-of: {{ $v.app }}
    edgewise.dev/role: region
{{- range $svc := $v.services }}
{{- if ne $svc.placement "edge" }}
{{- $ctx := dict "app" $v.app "svc" $svc "namespace" $v.region.namespace "copy" "region" "zone" ""
     "zones" $v.region.zones "replicas" $v.region.replicas "failover" false }}
---
{{ include "bench.deployment" $ctx }}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ $svc.name }}
  namespace: {{ $v.region.namespace }}
  labels:
    {{- include "bench.labels" $ctx | nindent 4 }}
spec:
  maxUnavailable: 1
  selector:
    matchLabels:
      {{- include "bench.selector" $ctx | nindent 6 }}
---
{{ include "bench.service" $ctx }}
{{- end }}
{{- end }}
"""

# every edge zone x every service: a namespace per zone, the edge copies pinned to the
# zone and tolerating the edge taint, Region-only services as ExternalName aliases
_CHART_EDGE = """\
{{- $v := .Values }}
{{- range $zone := $v.zones }}
---
apiVersion: v1
kind: Namespace
metadata:
  name: {{ $zone.namespace }}
  labels:
    app.kubernetes.io/part-of: {{ $v.app }}
    edgewise.dev/role: edge
    edgewise.dev/zone: {{ $zone.name }}
{{- range $svc := $v.services }}
{{- $ctx := dict "app" $v.app "svc" $svc "namespace" $zone.namespace "copy" "edge" "zone" $zone.name
     "zones" (list $zone.name) "replicas" $v.edge.replicas "failover" $svc.failover }}
{{- if eq $svc.placement "region" }}
---
apiVersion: v1
kind: Service
metadata:
  name: {{ $svc.name }}
  namespace: {{ $zone.namespace }}
  labels:
    {{- include "bench.labels" $ctx | nindent 4 }}
spec:
  type: ExternalName
  externalName: {{ $svc.name }}.{{ $v.region.namespace }}.svc.cluster.local
  ports:
  - name: app
    port: {{ $svc.port }}
    protocol: TCP
{{- else }}
---
{{ include "bench.deployment" $ctx }}
---
{{ include "bench.service" $ctx }}
{{- end }}
{{- end }}
{{- end }}
"""


def write_chart(root: Path, zones: int, services: int) -> Path:
    """Write the Helm chart; returns the directory to pass to `helm template`."""
    (root / "templates").mkdir(parents=True, exist_ok=True)
    (root / "Chart.yaml").write_text(yaml.safe_dump(
        {"apiVersion": "v2", "name": "bench", "version": "1.0.0", "type": "application",
         "description": "bench's services in every edge zone and the Region"}, sort_keys=False))
    (root / "values.yaml").write_text(yaml.safe_dump(chart_values(zones, services), sort_keys=False))
    (root / "templates" / "_helpers.tpl").write_text(_CHART_HELPERS)
    (root / "templates" / "region.yaml").write_text(_CHART_REGION)
    (root / "templates" / "edge.yaml").write_text(_CHART_EDGE)
    return root


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("zones", type=int)
    ap.add_argument("services", type=int)
    ap.add_argument("-o", "--out", type=Path, default=Path("bench-out"))
    args = ap.parse_args()
    base = args.out / f"{args.zones}x{args.services}"
    print(write_spec(base / "spec.yaml", args.zones, args.services))
    print(write_kustomize(base / "kustomize", args.zones, args.services))
    print(write_chart(base / "chart", args.zones, args.services))


if __name__ == "__main__":
    main()
