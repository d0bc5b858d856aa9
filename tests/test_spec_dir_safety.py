"""Spec directories are read whole or not at all (issue 18, part 4): unreadable and
symlinked subdirectories are reported, and plan's own output is never read as spec."""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import EXAMPLES_DIR
from edgewise.cli import cli
from edgewise.markers import PLAN_MARKER, TEMP_PREFIX


@pytest.fixture
def spec_dir(tmp_path: Path) -> Path:
    root = tmp_path / "spec"
    shutil.copytree(EXAMPLES_DIR / "local-zones-hashicups", root)
    return root


def run(*args: str) -> tuple[int, str]:
    res = CliRunner().invoke(cli, list(args))
    assert "Traceback" not in res.output
    return res.exit_code, res.output


def test_a_symlinked_subdirectory_is_reported(spec_dir: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "more"
    elsewhere.mkdir()
    (spec_dir / "more").symlink_to(elsewhere)
    for command in ("validate", "plan"):
        extra = ["-o", str(tmp_path / "out")] if command == "plan" else []
        code, output = run(command, str(spec_dir), *extra)
        assert code == 2, output
        assert f"{spec_dir / 'more'}: a symbolic link to a directory inside a spec directory" in output
    assert not (tmp_path / "out").exists()


def test_an_unreadable_subdirectory_is_reported(spec_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    hidden = spec_dir / "apps-extra"
    hidden.mkdir()
    (hidden / "app.yaml").write_text("kind: Application\n")
    real_listdir = os.listdir

    def listdir(path: object = ".") -> list[str]:
        if str(path) == str(hidden):  # root reads any directory: refuse it the way chmod 000 would
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_listdir(path)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "listdir", listdir)
    code, output = run("validate", str(spec_dir))
    assert code == 2
    assert f"{hidden}: cannot read this directory of the spec: Permission denied" in output
    assert "valid:" not in output


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any directory")
def test_an_unreadable_subdirectory_is_reported_for_real(spec_dir: Path) -> None:  # pragma: no cover - root in CI
    hidden = spec_dir / "apps-extra"
    hidden.mkdir()
    hidden.chmod(0)
    try:
        code, output = run("validate", str(spec_dir))
    finally:
        hidden.chmod(0o755)
    assert code == 2 and "cannot read this directory" in output


def test_plan_into_the_spec_directory_does_not_read_its_own_output(spec_dir: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(spec_dir)
    code, output = run("plan", ".", "-o", "out", "-q", "--simulate", "never")
    assert code == 0, output
    first = {p: (spec_dir / "out" / p).read_bytes() for p in os.listdir(spec_dir / "out") if p.endswith(".md")}
    (spec_dir / f"{TEMP_PREFIX}0badf00d").mkdir()  # debris of a killed run: skipped, then removed
    (spec_dir / f"{TEMP_PREFIX}0badf00d" / "half.yaml").write_text("kind: [\n")
    code, output = run("plan", ".", "-o", "out", "-q", "--simulate", "never")
    assert code == 0, output
    assert {p: (spec_dir / "out" / p).read_bytes() for p in first} == first
    code, output = run("validate", ".")
    assert code == 0 and "applications: hashicups" in output


def test_a_plan_directory_is_not_a_spec(spec_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert run("plan", str(spec_dir), "-o", str(out), "-q", "--simulate", "never")[0] == 0
    assert (out / PLAN_MARKER).is_file()
    code, output = run("validate", str(out))
    assert code == 2 and "is a plan edgewise wrote" in output
