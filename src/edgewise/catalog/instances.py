"""What an EC2 instance type's name says about it: CPU architecture and vCPUs.

EC2 names an instance type ``<family>.<size>``
(https://docs.aws.amazon.com/ec2/latest/instancetypes/instance-type-names.html). The
family says the processor: AWS Graviton (arm64) families are ``a1`` and every family
with a ``g`` right after the generation digit (m6g, c6gn, r7gd, t4g, x2gd, im4gn,
is4gen, g5g, hpc7g). The size says the vCPUs on every current family: ``large`` 2,
``xlarge`` 4, ``<N>xlarge`` 4 x N (m6i.large 2, c5d.2xlarge 8, m5.24xlarge 96,
u7i-12tb.224xlarge 896; https://docs.aws.amazon.com/ec2/latest/instancetypes/gp.html).
Below ``large`` the figure depends on the family (t2.micro 1, t3.micro 2, m6g.medium
1, t3.medium 2) and ``metal`` has no rule at all (m5.metal 96, m6i.metal 128,
m7g.metal 64), so :func:`instance_vcpus` gives the largest figure the size can mean,
or None: a check that compares requests with vCPUs must never under-count a node.
"""

from __future__ import annotations

import re

__all__ = ["instance_arch", "instance_vcpus"]

_ARM_FAMILY = re.compile(r"^(a1|[a-z]+[0-9]+g[a-z]*)$")
_NXLARGE = re.compile(r"^([0-9]+)xlarge$")


def instance_arch(instance_type: str) -> str:
    """``kubernetes.io/arch`` of an EC2 instance type: ``arm64`` for Graviton, else ``amd64``."""
    family = instance_type.split(".", 1)[0]
    return "arm64" if _ARM_FAMILY.match(family) else "amd64"


def instance_vcpus(instance_type: str) -> int | None:
    """vCPUs of an instance type: exact from ``large`` up, the most the name can mean
    below it (``medium`` of a burstable ``t`` family and of c1 2, of any other 1; ``nano`` to
    ``small`` 2), None for ``metal`` and for a size EC2 does not use."""
    family, _, size = instance_type.partition(".")
    if size == "large":
        return 2
    if size == "xlarge":
        return 4
    n = _NXLARGE.match(size)
    if n:
        return 4 * int(n.group(1))
    if size == "medium":
        return 2 if family.startswith("t") or family == "c1" else 1
    if size in ("nano", "micro", "small"):
        return 2
    return None
