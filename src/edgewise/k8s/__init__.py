"""Kubernetes objects as edgewise sees them: an index with inferred placement."""

from .inventory import Inventory, KObject, Service, Source, Workload

__all__ = ["Inventory", "KObject", "Service", "Source", "Workload"]
