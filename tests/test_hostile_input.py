"""Hostile and careless input (issue 18, parts 2, 3 and 6): every failure is an input
error (exit 2, file:line, no traceback) and costs bounded work.

The YAML-level reproducers live in the bad-input corpus (tests/data/bad/yaml-*.yaml,
checked by test_spec_bad_inputs for `validate`); here the same files go through `check`,
and the cases that are not one-problem files are tested directly."""

from __future__ import annotations

import errno
import os
import tracemalloc
from pathlib import Path

import pytest
from click.testing import CliRunner

from edgewise.check.inputs import load_paths
from edgewise.cli import cli
from edgewise.errors import MAX_REPORTED, InputError
from edgewise.spec import load_spec
from edgewise.spec.loader import MAX_SPEC_BYTES
from edgewise.spec.models import MAX_ZONES
from edgewise.spec.semantic import SUGGESTIONS
from edgewise.spec.yamlsource import DataBuilder, build_documents

BAD_DIR = Path(__file__).resolve().parent / "data" / "bad"
YAML_CASES = sorted(p for p in BAD_DIR.glob("yaml-*.yaml"))

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: nginx}]
"""


def run(*args: str) -> tuple[int, str]:
    res = CliRunner().invoke(cli, list(args))
    assert "Traceback" not in res.output
    assert not isinstance(res.exception, Exception) or isinstance(res.exception, SystemExit), res.exception
    return res.exit_code, res.output


@pytest.mark.parametrize("path", YAML_CASES, ids=lambda p: p.name)
def test_check_reports_hostile_yaml_as_input_errors(path: Path) -> None:
    code, output = run("check", str(path))
    assert code == 2, output
    line = int(path.read_text(errors="replace").split("line=", 1)[1].split()[0])
    assert f"{path}:{line}:" in output, output


@pytest.mark.parametrize("text", ["a: &a [*a]\n", "a: &a {b: *a}\n", "a: &a {<<: *a}\n", "a: " + "[" * 5000 + "\n",
                                  "a: " + "[" * 3000 + "]" * 3000 + "\n", "- !!binary '@@'\n",
                                  "? [a, b]\n: 1\n", "a: !!python/object:os.system x\n", "a: !!omap [1]\n",
                                  "a: !!set [1]\n", "a: !!float .nan.\n", "a: !!int 0x\n", "a: 1e99999\n",
                                  "a: !!int 99999999999999999999999999999\n", "\ufeffa: \x85\n", "a: \x1b\n"])
def test_yaml_edge_cases_raise_input_errors_only(text: str) -> None:
    try:
        build_documents(text, "f.yaml", DataBuilder("f.yaml"))
    except InputError as exc:
        assert all(p.file == "f.yaml" for p in exc.problems)
        assert all(p.line >= 1 for p in exc.problems), exc.report()


def test_a_615_byte_alias_bomb_is_stopped_within_bounded_memory() -> None:
    doc = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True):
        doc.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]")
    text = "\n".join(doc) + "\n"
    assert len(text) < 700
    tracemalloc.start()
    try:
        with pytest.raises(InputError, match="alias bomb"):
            build_documents(text, "bomb.yaml", DataBuilder("bomb.yaml"))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 200 * 2**20, f"peak {peak / 2**20:.0f} MiB while refusing a {len(text)}-byte document"


def test_moderate_aliasing_is_still_allowed() -> None:
    """Anchors used the ordinary way (a block of defaults merged into many entries) load."""
    text = "defaults: &d {cpu: 100m, memory: 128Mi, labels: {tier: web}}\nitems:\n" + "".join(
        f"  - {{<<: *d, name: item{i}}}\n" for i in range(500))
    docs = build_documents(text, "ok.yaml", DataBuilder("ok.yaml"))
    assert len(docs[0].data["items"]) == 500
    assert docs[0].data["items"][499] == {"cpu": "100m", "memory": "128Mi", "labels": {"tier": "web"},
                                           "name": "item499"}


def test_check_follows_symlink_loops_once(tmp_path: Path) -> None:
    d = tmp_path / "d"
    d.mkdir()
    (d / "web.yaml").write_text(DEPLOYMENT)
    (d / "l1").symlink_to(".")
    (d / "l2").symlink_to(".")
    sub = d / "sub"
    sub.mkdir()
    (sub / "up").symlink_to("..")
    (sub / "again.yaml").symlink_to(d / "web.yaml")
    loaded = load_paths([d, d / "web.yaml"])
    assert len(loaded.objects) == 1, "each real file is read once, however many paths lead to it"
    code, output = run("check", str(d))
    assert code in (0, 1) and "1 object(s) checked" in output, output


def test_check_reports_an_unreadable_subdirectory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    d = tmp_path / "d"
    (d / "secret").mkdir(parents=True)
    (d / "web.yaml").write_text(DEPLOYMENT)
    real_iterdir = Path.iterdir

    def iterdir(self: Path):  # type: ignore[no-untyped-def]
        if self == d / "secret":  # what chmod 000 does to anyone but root
            raise PermissionError(errno.EACCES, "Permission denied", str(self))
        return real_iterdir(self)

    monkeypatch.setattr(Path, "iterdir", iterdir)
    code, output = run("check", str(d))
    assert code == 2
    assert f"{d / 'secret'}: cannot read this directory: Permission denied" in output


def topology(zones: list[str]) -> str:
    return ("apiVersion: edgewise.dev/v1alpha1\nkind: Topology\nmetadata: {name: t}\nspec:\n"
            "  region: us-east-1\n  zones:\n" + "".join(f"    - name: {z}\n" for z in zones))


def test_many_unknown_zones_get_bounded_suggestions_and_output(tmp_path: Path) -> None:
    spec = tmp_path / "t.yaml"
    spec.write_text(topology([f"us-east-1-wl1-nyc-wlz{i}" for i in range(900)]))
    with pytest.raises(InputError) as exc:
        load_spec([spec])
    problems = exc.value.problems
    assert sum("unknown zone" in p.message for p in problems) == 900, "every unknown zone is reported"
    assert sum("did you mean" in p.hint for p in problems) <= SUGGESTIONS
    report = exc.value.report()
    assert report.count("\n    fix:") <= MAX_REPORTED
    assert f"... and {len(problems) - MAX_REPORTED} more" in report


def test_too_many_zones_names_the_limit(tmp_path: Path) -> None:
    spec = tmp_path / "t.yaml"
    spec.write_text(topology([f"us-east-1-x{i}" for i in range(MAX_ZONES + 1)]))
    code, output = run("validate", str(spec))
    assert code == 2 and f"at most {MAX_ZONES} items" in output and f"{spec}:6:" in output


def test_a_spec_file_over_the_size_limit_is_refused_unread(tmp_path: Path) -> None:
    spec = tmp_path / "huge.yaml"
    spec.write_text(topology(["us-east-1a"]) + "#" * MAX_SPEC_BYTES)
    code, output = run("validate", str(spec))
    assert code == 2 and "a spec file may be at most" in output


@pytest.mark.skipif(not hasattr(os, "geteuid"), reason="POSIX only")
def test_plan_reports_hostile_spec_yaml_without_writing(tmp_path: Path) -> None:
    out = tmp_path / "out"
    for path in YAML_CASES:
        code, output = run("plan", str(path), "-o", str(out))
        assert code == 2, output
        assert not out.exists()


def test_an_os_error_anywhere_is_exit_2_without_traceback(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from edgewise import workflow

    def vanished(*_args: object, **_kwargs: object) -> None:
        raise FileNotFoundError(errno.ENOENT, "No such file or directory", "/gone/spec.yaml")

    monkeypatch.setattr(workflow, "load_spec", vanished)
    res = CliRunner().invoke(cli, ["plan", str(BAD_DIR.parent.parent.parent / "examples" / "outposts"),
                                   "-o", str(tmp_path / "o")])
    assert res.exit_code == 2 and isinstance(res.exception, SystemExit)
    assert "/gone/spec.yaml: error: No such file or directory" in res.output
    assert not (tmp_path / "o").exists()
