"""Loading specs: the examples, positions, multi-file specs, and the error types."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgewise.errors import InputError, Problem, format_path
from edgewise.spec import Application, Topology, ZoneType, load_spec, read_documents
from edgewise.topology import build_topology

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
EXAMPLE_DIRS = sorted(p for p in EXAMPLES.iterdir() if p.is_dir())

#: what each example is about (reviewed by hand against the files)
EXAMPLE_KINDS = {
    "local-zones-hashicups": {ZoneType.AVAILABILITY_ZONE: 2, ZoneType.LOCAL: 3},
    "outposts": {ZoneType.AVAILABILITY_ZONE: 2, ZoneType.OUTPOST: 2},
    "wavelength": {ZoneType.AVAILABILITY_ZONE: 2, ZoneType.WAVELENGTH: 2},
}


def test_every_example_is_listed() -> None:
    assert sorted(p.name for p in EXAMPLE_DIRS) == sorted(EXAMPLE_KINDS)


@pytest.mark.parametrize("example", EXAMPLE_DIRS, ids=lambda p: p.name)
def test_example_loads_and_builds(example: Path) -> None:
    spec = load_spec(example)
    assert isinstance(spec.topology, Topology)
    assert spec.applications, "every example carries an Application"
    assert all(isinstance(a, Application) for a, _ in spec.applications)
    topo = build_topology(spec)
    assert [z.name for z in topo.zones] == [z.name for z in spec.topology.spec.zones]
    kinds: dict[ZoneType, int] = {}
    for z in topo.zones:
        kinds[z.kind] = kinds.get(z.kind, 0) + 1
        assert z.subnet_cidr is not None  # new VPC: every zone gets a subnet
        assert z.location_known
    assert kinds == EXAMPLE_KINDS[example.name]
    assert len(topo.public_subnets) == len(topo.region_zones) == 2


def test_loading_is_repeatable() -> None:
    a = build_topology(load_spec(EXAMPLES / "wavelength"))
    b = build_topology(load_spec(EXAMPLES / "wavelength"))
    assert a == b


def test_positions_point_at_keys_and_items(tmp_path: Path) -> None:
    f = tmp_path / "t.yaml"
    f.write_text("# c\napiVersion: x\nspec:\n  zones:\n"
                 "    - name: a\n      type: b\n    - {name: c}\n")
    (doc,) = read_documents(f)
    assert doc.position(("apiVersion",)) == (2, 1)
    assert doc.position(("spec", "zones", 0)) == (5, 7)
    assert doc.position(("spec", "zones", 0, "type")) == (6, 7)
    assert doc.position(("spec", "zones", 1, "name")) == (7, 8)
    # a path that does not exist falls back to its closest ancestor
    assert doc.position(("spec", "zones", 1, "nodeGroup", "min")) == (7, 7)
    p = doc.problem(("spec", "zones", 0, "type"), "bad", "fix it")
    assert (p.file, p.line, p.column, p.field) == (str(f), 6, 7, "spec.zones[0].type")


def test_documents_know_their_start_line(tmp_path: Path) -> None:
    f = tmp_path / "t.yaml"
    f.write_text("a: 1\n---\n\n# gap\nb: 2\n---\n")
    docs = read_documents(f)
    # the empty document after the trailing '---' is dropped, not reported as "a null"
    assert [(d.index, d.line, d.data) for d in docs] == [(0, 1, {"a": 1}), (1, 5, {"b": 2})]


def test_trailing_document_separator_is_accepted(tmp_path: Path) -> None:
    f = tmp_path / "t.yaml"
    f.write_text("---\n" + (EXAMPLES / "wavelength" / "topology.yaml").read_text() + "---\n")
    assert build_topology(load_spec(f)).name == "wavelength"


def test_explicit_null_document_is_an_error(tmp_path: Path) -> None:
    f = tmp_path / "t.yaml"
    f.write_text("--- null\n")
    with pytest.raises(InputError, match="must be a mapping, got a null"):
        load_spec(f)


def test_merge_keys_still_work(tmp_path: Path) -> None:
    f = tmp_path / "t.yaml"
    f.write_text("base: &b {x: 1}\nderived:\n  <<: *b\n  y: 2\n")
    (doc,) = read_documents(f)
    assert doc.data["derived"] == {"x": 1, "y": 2}


def test_spec_split_over_files(tmp_path: Path) -> None:
    src = EXAMPLES / "local-zones-hashicups"
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "app.yml").write_text((src / "hashicups.yaml").read_text())
    (tmp_path / "topology.yaml").write_text((src / "topology.yaml").read_text())
    (tmp_path / "notes.txt").write_text("not a spec")
    spec = load_spec(tmp_path)
    assert spec.name == "local-zones"
    ((app, doc),) = spec.applications
    assert app.metadata.name == "hashicups" and doc.file.endswith("app.yml")


def test_two_topologies_in_two_files(tmp_path: Path) -> None:
    text = (EXAMPLES / "wavelength" / "topology.yaml").read_text()
    (tmp_path / "a.yaml").write_text(text)
    (tmp_path / "b.yaml").write_text(text)
    with pytest.raises(InputError) as info:
        load_spec(tmp_path)
    (p,) = info.value.problems
    assert p.file.endswith("b.yaml") and p.field == "kind"
    assert "a.yaml" in p.message  # points at the first one


def test_empty_directory(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"holds no \.yaml"):
        load_spec(tmp_path)


# -- errors ------------------------------------------------------------------------------------

def test_format_path() -> None:
    assert format_path(("spec", "zones", 2, "name")) == "spec.zones[2].name"
    assert format_path(("spec", "latencyMs", "us-east-1a")) == "spec.latencyMs.us-east-1a"
    assert format_path(()) == ""
    assert format_path((0, "a")) == "[0].a"


def test_problem_render() -> None:
    p = Problem("t.yaml", 12, 7, "spec.zones[2].name", "unknown zone", "did you mean 'x'?")
    assert p.render() == "t.yaml:12:7: spec.zones[2].name: unknown zone\n    fix: did you mean 'x'?"
    assert Problem("t.yaml", 0, 0, "", "unreadable").render() == "t.yaml: unreadable"
    assert Problem("t.yaml", 3, 0, "", "bad").render() == "t.yaml:3: bad"


def test_input_error_sorts_and_deduplicates() -> None:
    b = Problem("t.yaml", 9, 1, "b", "second")
    a = Problem("t.yaml", 2, 1, "a", "first")
    err = InputError([b, a, b])
    assert err.problems == [a, b]
    assert str(err).splitlines() == ["t.yaml:2:1: a: first", "t.yaml:9:1: b: second"]
    single = InputError.single("f", "m", hint="h", line=4, field="x")
    assert single.problems == [Problem("f", 4, 0, "x", "m", "h")]
