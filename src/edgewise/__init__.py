"""edgewise: plan and verify Amazon EKS across a Region and its edge zones.

The public API is small: load a spec, resolve its topology. Everything else is reached
through the CLI or the layer packages (``edgewise.spec``, ``edgewise.topology``, ...).
"""

from .errors import InputError, Problem
from .spec import Spec, load_spec
from .topology import Topology, Zone, build_topology

__all__ = ["InputError", "Problem", "Spec", "Topology", "Zone", "__version__", "build_topology", "load_spec"]

__version__ = "0.1.0"
