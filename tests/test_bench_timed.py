"""The benchmark runner's clock (benchmarks/run.py ``timed``): a sample ends when the
process does, a process past its deadline is stopped and gives no sample, and a failing
one stops the run."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.run import timed


def test_a_sample_ends_when_the_process_does() -> None:
    sample = timed([sys.executable, "-c", "import time; time.sleep(0.3)"], 30)
    assert sample is not None and sample.rc == 0
    # the process's own 0.3 s, plus its start-up; not a polling interval more
    assert 0.3 <= sample.wall < 2.0
    assert sample.rss_mib > 1


def test_a_process_past_its_deadline_gives_no_sample() -> None:
    start = time.perf_counter()
    assert timed([sys.executable, "-c", "import time; time.sleep(30)"], 0.5) is None
    assert time.perf_counter() - start < 10  # stopped at the deadline, not waited for


def test_exit_code_one_is_a_sample_and_two_stops_the_run() -> None:
    one = timed([sys.executable, "-c", "raise SystemExit(1)"], 30)
    assert one is not None and one.rc == 1  # plan and check exit 1 on findings: still timed
    with pytest.raises(SystemExit, match="exit code 2"):
        timed([sys.executable, "-c", "import sys; sys.stderr.write('bad'); raise SystemExit(2)"], 30)
