"""The topologies the cluster-plan tests share: the three examples and the test specs
under tests/data/cluster/. Each test module picks the ones it covers with :func:`specs`."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from edgewise.spec import load_spec
from edgewise.topology import Topology, build_topology

ROOT = Path(__file__).resolve().parents[1]
_DATA = ROOT / "tests" / "data" / "cluster"
ALL: dict[str, Path] = {
    "outposts": ROOT / "examples" / "outposts",
    "wavelength": ROOT / "examples" / "wavelength",
    "local-zones": ROOT / "examples" / "local-zones-hashicups",
    "mixed-public": _DATA / "mixed-public.yaml",
    "existing-vpc": _DATA / "existing-vpc.yaml",
    "existing-vpc-reuse": _DATA / "existing-vpc-reuse.yaml",
    "private-wavelength": _DATA / "private-wavelength.yaml",
    "eu-west-1-outposts": _DATA / "eu-west-1-outposts.yaml",
}


def specs(*names: str) -> dict[str, Path]:
    """Name -> spec path for the named topologies, in the order given."""
    return {name: ALL[name] for name in names}


@cache
def topology(name: str) -> Topology:
    return build_topology(load_spec(ALL[name]))
