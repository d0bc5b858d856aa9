"""``edgewise verify``: a plan deployed onto a real Kubernetes control plane (the lab),
or server-side dry-run against a cluster of your own; see :mod:`edgewise.verify.run`."""

from __future__ import annotations

from .run import Finding, VerifyReport, verify_plan

__all__ = ["Finding", "VerifyReport", "verify_plan"]
