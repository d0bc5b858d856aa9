"""Kill-and-race test for plan's output directory (issue 18, part 1).

A writer is SIGKILLed at random moments while it replaces DIR again and again; after
every kill DIR holds one complete tree (the old or the new one, never a mix, never
missing). Then several `edgewise plan` runs race into the same DIR: all
succeed, DIR holds one complete plan, and no debris of the killed runs survives."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from click.testing import CliRunner

from conftest import EXAMPLES_DIR, REPO_ROOT
from edgewise.cli import cli
from edgewise.plan.outdir import MARKER

KILLS = 10
FILES = 300

DRIVER = f"""
import sys
from edgewise.plan.artifacts import write_tree
out = sys.argv[1]
trees = [{{f"d{{i % 7}}/f{{i}}.yaml": f"v: {{v}}\\nn: {{i}}\\n" + "x" * (i * v % 50) for i in range({FILES})}}
         for v in (1, 2)]
trees[1]["only-in-two.yaml"] = "two\\n"
write_tree(out, trees[0])
print("ready", flush=True)
i = 1
while True:
    write_tree(out, trees[i % 2])
    i += 1
"""


def tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def expected_trees() -> list[dict[str, bytes]]:
    trees = [{f"d{i % 7}/f{i}.yaml": (f"v: {v}\nn: {i}\n" + "x" * (i * v % 50)).encode() for i in range(FILES)}
             for v in (1, 2)]
    trees[1]["only-in-two.yaml"] = b"two\n"
    return trees


def env() -> dict[str, str]:
    e = dict(os.environ)
    e["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT / "src"), e.get("PYTHONPATH", "")])
    return e


def test_random_kills_then_concurrent_plans_leave_one_complete_plan(tmp_path: Path) -> None:
    parent = tmp_path / "parent"
    parent.mkdir()
    out = parent / "out"
    rng = random.Random(18)
    want = expected_trees()
    debris = 0
    for _ in range(KILLS):
        proc = subprocess.Popen([sys.executable, "-c", DRIVER, str(out)], env=env(), stdout=subprocess.PIPE)
        assert proc.stdout is not None and proc.stdout.readline() == b"ready\n"
        time.sleep(rng.uniform(0.0, 0.2))  # a swap every few milliseconds
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert out.is_dir(), "once written, DIR never goes missing"
        got = tree(out)
        marker = got.pop(MARKER)
        assert got in want, "after a kill DIR holds one complete tree"
        assert all(name.encode() in marker for name in got)
        debris += len([p for p in parent.iterdir() if p.name != "out"])

    reference = tmp_path / "reference"
    spec = str(EXAMPLES_DIR / "outposts")
    res = CliRunner().invoke(cli, ["plan", spec, "-o", str(reference), "-q", "--simulate", "never"])
    assert res.exit_code == 0, res.output
    command = [sys.executable, "-c", "from edgewise.cli import main; main()",
               "plan", spec, "-o", str(out), "-q", "--simulate", "never"]
    racers = [subprocess.Popen(command, env=env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
              for _ in range(3)]
    for proc in racers:
        output, _ = proc.communicate(timeout=120)
        assert proc.returncode == 0, output
    assert tree(out) == tree(reference), "DIR holds one complete plan"
    assert sorted(p.name for p in parent.iterdir()) == ["out"], "no debris survives the next run"
    assert debris, "no kill landed mid-write: the test proved nothing about debris"
