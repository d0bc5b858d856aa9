"""The CloudFormation stacks of the cluster plan: files, stack names, order, sizes.

The network and the Wavelength node groups are each one stack when their template fits
CloudFormation's quotas, and split per group of edge zones when it does not
(:mod:`.cfnsplit`). The RUNBOOK deploys the stacks in the order listed here (base, edge
groups, then the stack that gathers them) and deletes them in reverse; a template over
51,200 bytes is deployed from an S3 bucket (``--s3-bucket``).
"""

from __future__ import annotations

from dataclasses import dataclass

from ...topology import Topology
from ..artifacts import Artifact
from .cfnsplit import MAX_INLINE_TEMPLATE_BYTES, Part
from .names import network_stack, wavelength_stack
from .network import network_parts
from .wavelength import wavelength_parts, wavelength_zones

__all__ = ["CFN_BUCKET_VAR", "ClusterStacks", "StackFile", "cluster_stacks"]

#: the shell variable the RUNBOOK's ``--s3-bucket`` reads (``edgewise apply --s3-bucket``)
CFN_BUCKET_VAR = "CFN_BUCKET"


@dataclass(frozen=True)
class StackFile:
    """One stack: its name, template file, parameters, outputs and size in bytes."""

    stack: str
    path: str
    parameters: tuple[str, ...]
    outputs: tuple[str, ...]
    size: int
    zones: tuple[str, ...] = ()

    @property
    def via_s3(self) -> bool:
        """Too large to pass in the request: deployed from an S3 bucket."""
        return self.size > MAX_INLINE_TEMPLATE_BYTES


@dataclass(frozen=True)
class ClusterStacks:
    network: tuple[StackFile, ...]
    wavelength: tuple[StackFile, ...]
    artifacts: tuple[Artifact, ...]

    @property
    def split(self) -> bool:
        return len(self.network) > 1 or len(self.wavelength) > 1

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
