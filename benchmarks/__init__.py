"""Benchmarks: plan/check against helm template and kubectl kustomize, the simulator,
the controller and the failover scenarios (see docs/performance.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def write_json(out: Any, path: Path | None) -> None:
    """Write a benchmark's figures to ``path`` (``--json``), if given, as indented JSON."""
    if path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(out, indent=1) + "\n")
