"""EW252: a container without a memory limit."""

from __future__ import annotations

from collections.abc import Iterator

from ..model import CheckContext, Finding, Rule, Severity
from ._common import m
from ._pods import containers, pod_templates


class ContainerWithoutMemoryLimit(Rule):
    id = "EW252"
    name = "container-without-memory-limit"
    severity = Severity.WARNING
    summary = "Every container should have a memory limit."
    rationale = (
        "A container without a memory limit can take all of its node's memory; the kubelet "
        "then evicts other pods (https://kubernetes.io/docs/concepts/scheduling-eviction/"
        "node-pressure-eviction/). Edge zones run few, small node groups (often one or two "
        "nodes per Wavelength Zone or Outpost), so one runaway pod empties the zone and its "
        "users fail over to the Region."
    )
    fix = "set resources.limits.memory on the container (e.g. twice its request)"

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        for pod in pod_templates(ctx):
            for path, c in containers(pod):
                if m(m(c.get("resources")).get("limits")).get("memory") is None:
                    yield ctx.finding(
                        self,
                        pod.obj,
                        f"{pod.obj.ref}: container {c.get('name', path[-1])} has no memory limit",
                        path=path,
                    )
