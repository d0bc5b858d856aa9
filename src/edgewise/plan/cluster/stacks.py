"""The CloudFormation stacks of the cluster plan: files, stack names, order, sizes.

The network and the Wavelength node groups are each one stack when their template fits
CloudFormation's quotas, and split per group of edge zones when it does not
(:mod:`.cfnsplit`). The stacks are listed in an order where each comes after those it
imports from (base, edge groups, then the stack that gathers them); the RUNBOOK deploys
them in waves of stacks that need nothing of one another (:func:`deploy_waves`) and
deletes them in reverse order; a template over 51,200 bytes is deployed from an S3 bucket
(``--s3-bucket``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ...topology import Topology
from ..artifacts import Artifact, StackFile
from .cfnsplit import Part, StackTemplate, stack_waves
from .names import network_stack, wavelength_stack
from .network import network_parts
from .steps import DeployStack, DeployStacks
from .wavelength import wavelength_parts, wavelength_zones

__all__ = ["CFN_BUCKET_VAR", "ClusterStacks", "StackFile", "cluster_stacks", "deploy_waves", "wave_note"]

#: the shell variable the RUNBOOK's ``--s3-bucket`` reads (``edgewise apply --s3-bucket``)
CFN_BUCKET_VAR = "CFN_BUCKET"


@dataclass(frozen=True)
class ClusterStacks:
    network: tuple[StackFile, ...]
    wavelength: tuple[StackFile, ...]
    artifacts: tuple[Artifact, ...]

    @property
    def split(self) -> bool:
        return len(self.network) > 1 or len(self.wavelength) > 1

    @property
    def templates(self) -> dict[str, Mapping[str, Any]]:
        """Template file -> the template."""
        return {a.path: a.docs[0] for a in self.artifacts if a.docs}

    def output_stack(self, key: str) -> str:
        """The network stack that outputs ``key``."""
        for s in self.network:
            if key in s.outputs:
                return s.stack
        raise KeyError(key)


def _files(parts: list[Part], stack: str, stem: str) -> tuple[list[StackFile], list[Artifact]]:
    files, artifacts = [], []
    for p in parts:
        a = Artifact(f"cluster/{stem}{p.suffix}.cfn.yaml", docs=(p.template,))
        size = len(a.render().encode())
        files.append(StackFile(stack + p.suffix, a.path, p.parameters, tuple(p.template.get("Outputs", {})),
                               size, p.zones))
        artifacts.append(a)
    return files, artifacts


def cluster_stacks(topology: Topology) -> ClusterStacks:
    net, net_art = _files(network_parts(topology), network_stack(topology), "network")
    wl: list[StackFile] = []
    wl_art: list[Artifact] = []
    if wavelength_zones(topology):
        wl, wl_art = _files(wavelength_parts(topology), wavelength_stack(topology), "wavelength-nodes")
    return ClusterStacks(tuple(net), tuple(wl), tuple(net_art + wl_art))


def deploy_waves(deploys: Sequence[DeployStack],
                 templates: Mapping[str, Mapping[str, Any]]) -> list[DeployStack | DeployStacks]:
    """``deploys``, the stacks of one split template (in an order where each stack comes
    after those it needs; the first keeps the unsplit template's name), as waves
    (:func:`~.cfnsplit.stack_waves` of their templates, ``templates`` by file, with every
    stack after the first): a wave of one stack stays a :class:`DeployStack`, so plans of
    one stack a step are as before."""
    if len(deploys) < 2:
        return list(deploys)
    waves = stack_waves([StackTemplate(d.stack, templates[d.template], dict(d.parameters)) for d in deploys],
                        split_from_first=True)
    return [deploys[w[0]] if len(w) == 1 else DeployStacks(tuple(deploys[i] for i in w)) for w in waves]


def wave_note(deploys: Sequence[object]) -> str:
    """How the stacks of a step deploy: in waves, each wave's stacks at the same time."""
    sizes = [len(a.stacks) if isinstance(a, DeployStacks) else 1 for a in deploys
             if isinstance(a, DeployStack | DeployStacks)]
    if len(sizes) == sum(sizes):
        return "A stack is deployed only once the stacks it imports from are, so they deploy one after another."
    how = ("The stacks of a wave are deployed at the same time, each `aws cloudformation deploy` as a background "
           "job; the block waits for all of them, names the stacks that failed and fails if any did.")
    counts = ", ".join(str(n) for n in sizes[:-1]) + f" and {sizes[-1]}"
    return (f"They deploy in waves, concurrently: a stack goes in the first wave after the base stack and every "
            f"stack it imports from (or whose Route 53 records its alias records point at), as the templates say; "
            f"{len(sizes)} waves of {counts} stacks. {how}")
