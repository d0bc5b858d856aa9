"""What the YAML writer's tests compare against: PyYAML's text, and the documents
edgewise generates for the examples (shared by ``test_yamlout`` and
``test_yamlout_compiled``)."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import EXAMPLES_DIR
from edgewise import workflow, yamlout
from edgewise.plan.apps import plan_application
from edgewise.plan.cluster import plan_cluster
from edgewise.spec import Application, load_spec
from edgewise.topology import build_topology

BACKENDS = ("consul-enterprise", "consul", "istio", "kubernetes")


def reference(obj: Any) -> str:
    """What PyYAML writes for one document with edgewise's options."""
    out: str = yaml.dump_all([obj], Dumper=yamlout._Dumper, sort_keys=False, default_flow_style=False,
                             allow_unicode=True, width=4096, explicit_start=True)
    return out


def examples() -> list[Path]:
    return sorted(p for p in EXAMPLES_DIR.iterdir() if p.is_dir())


@cache
def generated_documents() -> list[tuple[str, Any]]:
    """Every document the generators make for each example, each application planned
    under every routing backend."""
    docs: list[tuple[str, Any]] = []
    for example in examples():
        spec = load_spec(example)
        topology = build_topology(spec)
        artifacts = list(plan_cluster(topology, [a.metadata.name for a, _ in spec.applications]))
        for app, _ in spec.applications:
            for backend in BACKENDS:
                data = app.model_dump(by_alias=True, mode="json", exclude_none=True)
                data["spec"]["routing"] = backend
                artifacts += plan_application(topology, Application.model_validate(data)).artifacts
        for a in artifacts:
            for doc in a.docs or []:
                docs.append((f"{example.name}:{a.path}", doc))
    return docs


@cache
def planned_documents() -> list[tuple[str, Any]]:
    """Every document ``run_plan`` writes as YAML for each example (files, values
    files, templates), recorded where the writer takes them."""
    docs: list[tuple[str, Any]] = []
    recorded: list[Any] = []
    texts = yamlout._texts

    def recording(objs: Sequence[Any], explicit_start: bool) -> list[str | None]:
        recorded.extend(objs)
        return texts(objs, explicit_start)

    for example in examples():
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(yamlout, "_texts", recording)
            workflow.run_plan([example], None, with_simulation=False, fork=False)
        docs += [(example.name, obj) for obj in recorded]
        recorded.clear()
    return docs
