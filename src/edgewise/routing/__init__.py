"""Routing: who calls whom, and where a call can land (the shared route resolver)."""

from .calls import Call, infer_calls, parse_host
from .resolver import Caller, Endpoint, Resolution, RouteResolver, Tier

__all__ = [
    "Call",
    "Caller",
    "Endpoint",
    "Resolution",
    "RouteResolver",
    "Tier",
    "infer_calls",
    "parse_host",
]
