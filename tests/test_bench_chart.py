"""The benchmark's Helm chart renders what plan writes, so `helm template` vs `plan` is fair.

`make bench` times `helm template` of the chart a platform team would write instead of
edgewise (benchmarks/generate.py: values list the zones and the services, templates loop
over zones x services) against `edgewise plan` of the same spec. Here, at a small size
with every kind of service the benchmark spec has (edge and Region, edge only, Region
only, called and not called), the chart's rendered objects are compared with the ones
plan writes per zone: the same Namespaces, Deployments, Services and Region
PodDisruptionBudgets by kind, namespace and name, and the same placement (replicas,
node affinity, tolerations, spread constraints, labels and selectors, how each Service
finds its endpoints).
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from edgewise.lab.control_plane import LabError, find_program
from edgewise.workflow import run_plan

REPO = Path(__file__).resolve().parents[1]
KINDS = {"Namespace", "Deployment", "Service", "PodDisruptionBudget"}


def _generate() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_generate", REPO / "benchmarks" / "generate.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


gen = _generate()

#: 5 edge zones (one a Wavelength Zone) x 12 services: Region-only (4, 9), edge-only
#: (6), edge and Region called (1, 2, ...) and not called (0, the exposed one)
ZONES, SERVICES = 5, 12


def _key(o: dict[str, Any]) -> tuple[str, str, str]:
    meta = o["metadata"]
    return o["kind"], meta.get("namespace", ""), meta["name"]


def _placement(o: dict[str, Any]) -> dict[str, Any]:
    """What decides where an object's pods run and where its traffic goes."""
    meta, spec = o["metadata"], o.get("spec", {})
    out: dict[str, Any] = {"labels": meta.get("labels"), "annotations": meta.get("annotations")}
    if o["kind"] == "Deployment":
        pod = spec["template"]["spec"]
        out |= {
            "replicas": spec.get("replicas"),
            "selector": spec["selector"],
            "pod_labels": spec["template"]["metadata"].get("labels"),
            **{k: pod.get(k) for k in ("affinity", "tolerations", "topologySpreadConstraints", "nodeSelector")},
            "ports": [c.get("ports") for c in pod["containers"]],
        }
    elif o["kind"] == "Service":
        out |= {k: spec.get(k) for k in ("type", "selector", "externalName", "ports")}
    elif o["kind"] == "PodDisruptionBudget":
        out |= {"selector": spec.get("selector"), "maxUnavailable": spec.get("maxUnavailable")}
    return out


@pytest.fixture(scope="module")
def objects(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[Any, Any], dict[Any, Any]]:
    try:
        helm = find_program("helm")
    except LabError as exc:
        pytest.fail(f"helm is built by `make lab` (tools/lab-build.sh): {exc}")
    tmp = tmp_path_factory.mktemp("bench-chart")
    spec = gen.write_spec(tmp / "spec.yaml", ZONES, SERVICES)
    chart = gen.write_chart(tmp / "chart", ZONES, SERVICES)

    result = run_plan([spec], None, with_simulation=False)
    planned: dict[Any, Any] = {}
    for path, text in result.files.items():
        parts = path.split("/")
        if len(parts) == 4 and parts[0] == "apps" and path.endswith(".yaml"):
            for doc in yaml.safe_load_all(text):
                if doc and doc["kind"] in KINDS:
                    assert _key(doc) not in planned, _key(doc)
                    planned[_key(doc)] = doc

    out = subprocess.run([str(helm), "template", "bench", str(chart)], capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    rendered: dict[Any, Any] = {}
    for doc in yaml.safe_load_all(out.stdout):
        if doc:
            assert _key(doc) not in rendered, _key(doc)
            rendered[_key(doc)] = doc
    return planned, rendered


def test_the_chart_renders_every_object_plan_writes_per_zone_and_no_other(
        objects: tuple[dict[Any, Any], dict[Any, Any]]) -> None:
    planned, rendered = objects
    assert set(rendered) == set(planned)
    kinds = [k for k, _ns, _n in planned]
    # every kind is there, in every zone: 5 edge namespaces + the Region's
    assert {k: kinds.count(k) for k in KINDS} == {
        "Namespace": ZONES + 1,
        "Deployment": ZONES * sum(p != "region" for p in gen.placements(SERVICES))
        + sum(p != "edge" for p in gen.placements(SERVICES)),
        "Service": ZONES * SERVICES + sum(p != "edge" for p in gen.placements(SERVICES)),
        "PodDisruptionBudget": sum(p != "edge" for p in gen.placements(SERVICES)),
    }


def test_the_chart_places_each_object_as_plan_does(objects: tuple[dict[Any, Any], dict[Any, Any]]) -> None:
    planned, rendered = objects
    differ = [k for k in sorted(planned) if k in rendered and _placement(planned[k]) != _placement(rendered[k])]
    assert not differ, (differ[:3], [(_placement(planned[k]), _placement(rendered[k])) for k in differ[:1]])


def test_the_comparison_sees_a_misplaced_object(objects: tuple[dict[Any, Any], dict[Any, Any]]) -> None:
    """The placement comparison is not blind: an edge Deployment pinned to a sibling
    zone, or without the edge toleration, differs."""
    planned, _rendered = objects
    key = next(k for k in sorted(planned) if k[0] == "Deployment" and k[1] != "bench-region")
    moved = yaml.safe_load(yaml.safe_dump(planned[key]))
    terms = moved["spec"]["template"]["spec"]["affinity"]["nodeAffinity"][
        "requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    terms[0]["matchExpressions"][0]["values"] = [gen.zone_names(ZONES)[-1]]
    assert _placement(moved) != _placement(planned[key])
    untolerated = yaml.safe_load(yaml.safe_dump(planned[key]))
    del untolerated["spec"]["template"]["spec"]["tolerations"]
    assert _placement(untolerated) != _placement(planned[key])
