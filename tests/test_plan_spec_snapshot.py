"""The plan directory keeps the spec it was made from (``spec/``): a byte copy that
loads to the same spec, covered by the output directory's marker and atomic swap, and
read by ``verify`` and ``check`` when no ``--topology`` is given."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import EXAMPLES_DIR
from edgewise.cli import cli
from edgewise.markers import PLAN_MARKER
from edgewise.spec import load_spec
from edgewise.workflow import run_plan


def _spec_copy(tmp: Path, example: str = "local-zones-hashicups") -> Path:
    spec = tmp / "myspec"
    shutil.copytree(EXAMPLES_DIR / example, spec)
    return spec


def _plan(spec: Path | list[Path], out: Path) -> None:
    res = CliRunner().invoke(cli, ["plan", *[str(p) for p in (spec if isinstance(spec, list) else [spec])],
                                   "-o", str(out), "-q", "--simulate", "never"])
    assert res.exit_code == 0, res.output


@pytest.mark.parametrize("example", sorted(p.name for p in EXAMPLES_DIR.iterdir() if p.is_dir()))
def test_the_plan_holds_a_byte_copy_of_its_spec_that_loads_to_the_same_spec(example: str, tmp_path: Path) -> None:
    out = tmp_path / "out"
    _plan(EXAMPLES_DIR / example, out)
    inputs = sorted(p for p in (EXAMPLES_DIR / example).rglob("*") if p.suffix in (".yaml", ".yml"))
    copies = sorted(p for p in (out / "spec").rglob("*") if p.is_file())
    assert [p.relative_to(out / "spec") for p in copies] == [p.relative_to(EXAMPLES_DIR / example) for p in inputs]
    for src, dst in zip(inputs, copies, strict=True):
        assert dst.read_bytes() == src.read_bytes(), f"{dst} is not a byte copy of {src}"
    original, snapshot = load_spec([EXAMPLES_DIR / example]), load_spec([out / "spec"])
    assert snapshot.topology == original.topology
    assert [a for a, _ in snapshot.applications] == [a for a, _ in original.applications]
    listed = json.loads((out / PLAN_MARKER).read_text(encoding="utf-8"))
    listed_files = listed["files"] if isinstance(listed, dict) else listed
    assert {f"spec/{p.relative_to(out / 'spec').as_posix()}" for p in copies} <= set(listed_files)


def test_the_snapshot_does_not_depend_on_where_the_spec_lives(tmp_path: Path) -> None:
    """Files named one by one from another directory: paths relative to their common
    directory, and the same bytes as planning the directory itself."""
    a, b = tmp_path / "a", tmp_path / "b"
    _plan(EXAMPLES_DIR / "wavelength", a)
    elsewhere = tmp_path / "deep" / "er"
    shutil.copytree(EXAMPLES_DIR / "wavelength", elsewhere)
    _plan(sorted(elsewhere.glob("*.yaml")), b)
    def files(root: Path) -> dict[str, bytes]:
        return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}
    assert files(a / "spec") == files(b / "spec")
    nested = tmp_path / "nested"
    (nested / "apps").mkdir(parents=True)
    shutil.copy(EXAMPLES_DIR / "local-zones-hashicups" / "topology.yaml", nested / "topology.yaml")
    shutil.copy(EXAMPLES_DIR / "local-zones-hashicups" / "hashicups.yaml", nested / "apps" / "hashicups.yaml")
    c = tmp_path / "c"
    _plan(nested, c)
    assert sorted(str(p.relative_to(c / "spec")) for p in (c / "spec").rglob("*.yaml")) == [
        "apps/hashicups.yaml", "topology.yaml"]


def test_replanning_replaces_the_snapshot_and_refuses_a_file_added_to_it(tmp_path: Path) -> None:
    spec, out = _spec_copy(tmp_path), tmp_path / "out"
    _plan(spec, out)
    assert (out / "spec" / "hashicups.yaml").is_file()
    # the application moves to another file: the old copy must not linger
    (spec / "hashicups.yaml").rename(spec / "shop.yaml")
    _plan(spec, out)
    assert not (out / "spec" / "hashicups.yaml").exists() and (out / "spec" / "shop.yaml").is_file()
    # a file added by hand to spec/ is not the plan's: replacing the plan would delete it
    (out / "spec" / "notes.yaml").write_text("# mine\n", encoding="utf-8")
    before = sorted(p.name for p in (out / "spec").iterdir())
    res = CliRunner().invoke(cli, ["plan", str(spec), "-o", str(out), "-q", "--simulate", "never"])
    assert res.exit_code == 2, res.output
    assert "spec/notes.yaml" in res.output
    assert sorted(p.name for p in (out / "spec").iterdir()) == before


def test_check_of_a_plan_directory_reads_its_spec(tmp_path: Path) -> None:
    out = tmp_path / "out"
    _plan(EXAMPLES_DIR / "outposts", out)
    res = CliRunner().invoke(cli, ["check", str(out), "--format", "json", "--no-config"])
    assert res.exit_code == 0, res.output
    notes = json.loads(res.stdout)["notes"]
    assert any("read from the inputs" in n and "spec/topology.yaml" in n for n in notes), notes
    assert not any("inferred from the catalog" in n for n in notes)
    # --topology naming another topology wins, and the difference is said
    other = CliRunner().invoke(cli, ["check", str(out), "--topology", str(EXAMPLES_DIR / "wavelength"),
                                     "--format", "json", "--no-config"])
    assert other.exit_code in (0, 1), other.output
    other_notes = json.loads(other.stdout)["notes"]
    assert any("--topology" in n and "differs" in n and "spec/topology.yaml" in n for n in other_notes), other_notes
    same = CliRunner().invoke(cli, ["check", str(out), "--topology", str(EXAMPLES_DIR / "outposts"),
                                    "--format", "json", "--no-config"])
    assert same.exit_code == 0, same.output
    assert not any("differs" in n for n in json.loads(same.stdout)["notes"])


def _verify(args: list[str]) -> tuple[int, str]:
    res = CliRunner().invoke(cli, ["verify", *args, "-q"])
    return res.exit_code, res.output


def test_verify_without_a_usable_snapshot_exits_2_before_starting_anything(tmp_path: Path) -> None:
    spec = _spec_copy(tmp_path, "wavelength")
    out = tmp_path / "out"
    run_plan([spec], out, with_simulation=False)
    # removed
    shutil.rmtree(out / "spec")
    code, output = _verify([str(out)])
    assert code == 2 and "no spec snapshot" in output and "--topology" in output, output
    assert "Traceback" not in output
    # corrupted: YAML that does not parse is reported at its file:line in spec/
    run_plan([spec], out, with_simulation=False)
    topo = out / "spec" / "topology.yaml"
    text = topo.read_text(encoding="utf-8").splitlines()
    text[5] = text[5] + ": ]["
    topo.write_text("\n".join(text) + "\n", encoding="utf-8")
    code, output = _verify([str(out)])
    assert code == 2 and f"{topo}:6" in output, output
    # still a valid spec, but of another cluster than the plan's eksctl config
    run_plan([spec], out, with_simulation=False)
    topo.write_text(topo.read_text(encoding="utf-8").replace("name: ", "name: other-", 1), encoding="utf-8")
    code, output = _verify([str(out)])
    assert code == 2 and "spec/ was changed after plan wrote it" in output and "cluster/eksctl.yaml" in output, output
    # a spec with an invalid value: the loader's error, at the snapshot's file:line
    run_plan([spec], out, with_simulation=False)
    topo.write_text(topo.read_text(encoding="utf-8").replace("region: ", "region: nowhere-", 1), encoding="utf-8")
    code, output = _verify([str(out)])
    assert code == 2 and str(topo) in output, output
