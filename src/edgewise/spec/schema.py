"""JSON Schema of the spec, for editors and CI."""

from __future__ import annotations

from typing import Any

from .models import Application, Topology

__all__ = ["spec_json_schema"]


def spec_json_schema() -> dict[str, Any]:
    topo = Topology.model_json_schema(by_alias=True)
    app = Application.model_json_schema(by_alias=True)
    defs: dict[str, Any] = {}
    for s in (topo, app):
        defs.update(s.pop("$defs", {}))
    defs["Topology"] = topo
    defs["Application"] = app
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://edgewise.dev/schemas/v1alpha1/spec.json",
        "title": "edgewise spec document (Topology or Application)",
        "oneOf": [{"$ref": "#/$defs/Topology"}, {"$ref": "#/$defs/Application"}],
        "$defs": defs,
    }
