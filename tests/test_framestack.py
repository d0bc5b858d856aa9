"""edgewise._framestack: a command run through it never maps and unmaps a chunk of the
interpreter's frame stack per call (CPython gh-142183), at any call depth."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

# Calls a function with a large frame in a loop, from every depth in turn, and counts the
# minor page faults of each loop. A call that lands just across a chunk boundary maps a
# fresh chunk (and faults its first page in) on every call: about one fault per call.
PROBE = textwrap.dedent("""
    import json, resource, sys, types
    from edgewise import _framestack

    def _leaf():
        return 1

    # a leaf frame larger than a probe frame, so some depth leaves room for a probe
    # frame but not for the leaf: the leaf's calls then straddle a chunk boundary
    leaf = types.FunctionType(_leaf.__code__.replace(co_stacksize=_leaf.__code__.co_stacksize + 64),
                              globals(), "leaf")
    CALLS = 2000

    def probe(depth):
        if depth:
            return probe(depth - 1)
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        for _ in range(CALLS):
            leaf()
        return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before

    def worst():
        return max(probe(d) for d in range(600))

    print(json.dumps({"plain": worst(), "roomy": _framestack.run(worst), "calls": CALLS}))
""")


def test_no_chunk_is_mapped_per_call_at_any_depth() -> None:
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True)

    faults = json.loads(out.stdout)
    # under run(): no depth faults once per call (a few faults from the allocator's own
    # growth are fine)
    assert faults["roomy"] < faults["calls"] // 10, faults
    if faults["plain"] < faults["calls"] // 2:
        pytest.skip(f"this interpreter keeps a spare frame-stack chunk (gh-142183 fixed): {faults}")
    # the control: the probe does see the per-call mapping where run() is not used
    assert faults["plain"] >= faults["calls"] * 9 // 10, faults


def test_run_returns_the_result_and_raises_the_error() -> None:
    from edgewise import _framestack

    assert _framestack.run(lambda: 42) == 42
    with pytest.raises(ZeroDivisionError):
        _framestack.run(lambda: 1 // 0)


def test_recursion_limit_is_unchanged_inside() -> None:
    from edgewise import _framestack

    def depth(n: int) -> int:
        return depth(n + 1) if n < 900 else n

    assert _framestack.run(lambda: depth(0)) == 900
    with pytest.raises(RecursionError):
        _framestack.run(lambda: depth(-10**6))
