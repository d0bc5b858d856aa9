"""The README's commands work as written.

Every line of the README's shell blocks is run as a user would run it (``edgewise`` as a
program, from a directory holding the repository's ``examples/``), except the AWS block,
which needs an account (tests/aws/test_aws_readme.py runs it against the emulator). Every
spec in its YAML blocks validates and plans. A line this file does not know how to run
fails the test, so a command added to the README is either run here or consciously
placed in ``NOT_RUN_HERE``.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from readme_blocks import NOT_RUN_HERE, PLACEHOLDERS, README, REPO, fenced_blocks, is_aws_block, shell_lines


def run_edgewise(argv: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "edgewise", *argv[1:]], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


@pytest.fixture
def user_dir(tmp_path: Path) -> Path:
    """A working directory like a checkout's: the examples, nothing planned yet."""
    (tmp_path / "examples").symlink_to(REPO / "examples", target_is_directory=True)
    return tmp_path


def test_the_readme_has_what_this_file_runs() -> None:
    sh = fenced_blocks("sh")
    assert len(sh) >= 3, "the README lost its shell blocks"
    assert sum(is_aws_block(b) for b in sh) == 1
    assert len(fenced_blocks("yaml")) >= 1
    text = README.read_text(encoding="utf-8")
    for placeholder in PLACEHOLDERS:
        assert placeholder in text, f"{placeholder} is no longer in the README: drop it here"


def test_every_shell_line_runs_as_written(user_dir: Path) -> None:
    ran = 0
    for block in fenced_blocks("sh"):
        if is_aws_block(block):
            continue
        for no, argv in shell_lines(block):
            line = shlex.join(argv)
            where = f"README.md:{no}: {line}"
            if line in NOT_RUN_HERE:
                continue
            if argv[0] == "ls":
                # `ls DIR   # a b/ c ...`: the comment names what the reader will see
                comment = README.read_text(encoding="utf-8").splitlines()[no - 1].partition("#")[2]
                names = [n.rstrip("/") for n in comment.split() if n != "..."]
                assert names, where
                for name in names:
                    assert (user_dir / argv[1] / name).exists(), f"{where}: no {name}"
                continue
            assert argv[0] == "edgewise", f"{where}: a line this test does not know how to run"
            r = run_edgewise(argv, user_dir)
            # check exits 1 when it finds something: that is the command working
            ok = (0, 1) if argv[1] == "check" else (0,)
            assert r.returncode in ok, f"{where}: exit {r.returncode}\n{r.stdout}\n{r.stderr}"
            assert "Traceback" not in r.stderr, where
            ran += 1
    assert ran >= 6


def test_the_spec_example_validates_and_plans(tmp_path: Path) -> None:
    specs = [(no, text) for no, text in fenced_blocks("yaml") if "apiVersion: edgewise.dev/" in text]
    assert specs, "the README shows no spec"
    for no, text in specs:
        path = tmp_path / f"readme-{no}.yaml"
        path.write_text(text, encoding="utf-8")
        kinds = [d["kind"] for d in yaml.safe_load_all(text)]
        r = run_edgewise(["edgewise", "validate", str(path)], tmp_path)
        assert r.returncode == 0, f"README.md:{no}: the spec example does not validate\n{r.stdout}{r.stderr}"
        if "Topology" in kinds:
            out = tmp_path / f"plan-{no}"
            r = run_edgewise(["edgewise", "plan", str(path), "-o", str(out), "--simulate", "never"], tmp_path)
            assert r.returncode == 0, f"README.md:{no}: the spec example does not plan\n{r.stdout}{r.stderr}"
            assert (out / "RUNBOOK.md").is_file()
