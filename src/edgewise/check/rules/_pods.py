"""Pod templates of every pod-producing object, for the pod-level hygiene rules."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from ...k8s.inventory import KObject
from ..model import CheckContext
from ._common import m, seq

__all__ = ["PodTemplate", "containers", "pod_templates"]

#: kind -> path of the pod spec inside the object
POD_PATHS: dict[str, tuple[str, ...]] = {
    "Pod": ("spec",),
    "Deployment": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}


@dataclass(frozen=True)
class PodTemplate:
    obj: KObject
    path: tuple[str, ...]
    spec: Mapping[str, Any]


def pod_templates(ctx: CheckContext) -> list[PodTemplate]:
    """Every pod template of the inventory, in its order (found once per check run:
    several rules walk them)."""
    found: list[PodTemplate] | None = ctx.memo.get("pod_templates")
    if found is None:
        found = []
        for obj in ctx.of_kind(*POD_PATHS):
            path = POD_PATHS[obj.kind]
            node: Any = obj.body
            for key in path:
                node = m(node).get(key)
            if type(node) is dict or isinstance(node, Mapping):
                found.append(PodTemplate(obj, path, node))
        ctx.memo["pod_templates"] = found
    return found


def containers(pod: PodTemplate) -> Iterator[tuple[tuple[str | int, ...], Mapping[str, Any]]]:
    """(path, container) for every container and init container of the pod."""
    for field in ("initContainers", "containers"):
        for i, c in enumerate(seq(pod.spec.get(field))):
            if type(c) is dict or isinstance(c, Mapping):  # a plain dict first: the ABC check is slow
                yield (*pod.path, field, i), c
