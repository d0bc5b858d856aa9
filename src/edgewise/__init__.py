"""edgewise: plan and verify Amazon EKS across a Region and its edge zones.

The public API is small: load a spec, resolve its topology. Everything else is reached
through the CLI or the layer packages (``edgewise.spec``, ``edgewise.topology``, ...).

The names below are imported on first use (PEP 562), so ``edgewise --version`` and the
commands that do not load a spec do not pay for pydantic and the spec models.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import _lazy

if TYPE_CHECKING:
    from .errors import InputError, Problem
    from .spec import Spec, load_spec
    from .topology import Topology, Zone, build_topology

__all__ = ["InputError", "Problem", "Spec", "Topology", "Zone", "__version__", "build_topology", "load_spec"]

__version__ = "0.1.0"

#: public name -> the module (relative to this package) that defines it
__getattr__, __dir__ = _lazy.attach(__name__, {
    "InputError": ".errors",
    "Problem": ".errors",
    "Spec": ".spec",
    "load_spec": ".spec",
    "Topology": ".topology",
    "Zone": ".topology",
    "build_topology": ".topology",
})
