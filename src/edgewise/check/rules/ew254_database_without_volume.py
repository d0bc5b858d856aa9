"""EW254: a database image run without a persistent volume, or as several independent copies."""

from __future__ import annotations

import re
from collections.abc import Iterator

from ..model import CheckContext, Finding, Rule, Severity
from ._common import m, seq
from ._pods import containers, pod_templates

#: images that keep their data on local disk (by repository name)
DATA_IMAGES = re.compile(
    r"(^|/)(postgres|postgresql|mysql|mariadb|mongo|mongodb|redis|cassandra|elasticsearch|"
    r"opensearch|etcd|zookeeper|rabbitmq|product-api-db)(:|@|$)"
)


class DatabaseWithoutVolume(Rule):
    id = "EW254"
    name = "database-without-volume"
    severity = Severity.WARNING
    summary = "A database image should run as a StatefulSet with a PersistentVolumeClaim, not a Deployment."
    rationale = (
        "A Deployment's pods are interchangeable and keep nothing: a database there loses its "
        "data on every restart, and with replicas > 1 it becomes several independent, diverging "
        "databases behind one Service. A StatefulSet gives each pod a stable identity and its "
        "own PersistentVolumeClaim (https://kubernetes.io/docs/concepts/workloads/controllers/"
        "statefulset/); on EKS the claim needs a StorageClass (clusters from 1.30 on have no "
        "default one) and, in Wavelength Zones and on Outposts, gp2 volumes."
    )
    fix = (
        "run it as a StatefulSet with volumeClaimTemplates (edgewise: storage: {size: 20Gi} on a "
        "Region-only service), or point the app at a managed database"
    )

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        for pod in pod_templates(ctx):
            if pod.obj.kind not in ("Deployment", "ReplicaSet", "Pod"):
                continue
            volumes = {
                str(m(v).get("name")): m(v)
                for v in seq(pod.spec.get("volumes"))
                if m(v).get("persistentVolumeClaim")
            }
            for path, c in containers(pod):
                image = str(c.get("image", ""))
                if not DATA_IMAGES.search(image.lower()):
                    continue
                mounted = {str(m(vm).get("name")) for vm in seq(c.get("volumeMounts"))}
                replicas = m(pod.obj.body.get("spec")).get("replicas", 1)
                if mounted & set(volumes) and replicas in (0, 1):
                    continue
                what = (
                    f"{replicas} replicas of {image} are {replicas} independent databases"
                    if isinstance(replicas, int) and replicas > 1
                    else f"{image} keeps its data in the container: it is lost when the pod goes"
                )
                yield ctx.finding(self, pod.obj, f"{pod.obj.ref}: {what}", path=(*path, "image"))
