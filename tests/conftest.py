"""Shared test fixtures: where the repository, its examples and the reference data live.

Kept deliberately small and generic so every test module can lean on it.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

# The code edgewise keeps between runs (edgewise/_codecache.py) goes to a directory of this
# test session's own, not to the user's ~/.cache/edgewise: the tests' thousands of classes
# and patterns would grow the cache every run of the user's reads (a test session once left
# 2.3 MB there, read in 70 M instructions where plan's own runs leave 0.7 MB, 16 M). Set
# before edgewise.cli is imported; the session's workers inherit it, the process that
# made it removes it.
if not os.environ.get("EDGEWISE_CACHE_DIR"):
    os.environ["EDGEWISE_CACHE_DIR"] = _TEST_CACHE = tempfile.mkdtemp(prefix="edgewise-test-cache-")
    atexit.register(shutil.rmtree, _TEST_CACHE, True)

import pytest
from click.testing import CliRunner

from edgewise.lab import Lab, LabError, find_program, running_lab

REPO_ROOT = Path(__file__).resolve().parents[1]
EXAMPLES_DIR = REPO_ROOT / "examples"
# Upstream schemas and other reference material live beside the repository; tests may read
# them, the product never does.
# EDGEWISE_SHARED_DIR points elsewhere (e.g. when the checkout is not beside it).
SHARED_DIR = Path(os.environ.get("EDGEWISE_SHARED_DIR") or (REPO_ROOT / ".." / "shared")).resolve()


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def examples_dir() -> Path:
    return EXAMPLES_DIR


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED_DIR.is_dir():
        pytest.skip(f"reference data directory {SHARED_DIR} is not available")
    return SHARED_DIR


@pytest.fixture
def cli_runner() -> CliRunner:
    """A click runner for ``edgewise.cli.cli`` (stdout and stderr kept apart in ``result``)."""
    return CliRunner()


# -- the Kubernetes lab (edgewise.lab) -------------------------------------------------
# One real control plane per pytest process (each xdist worker starts its own), started on
# first use and stopped at the end of the session. Nodes are cluster-wide: a test that
# registers nodes or creates namespaces uses ``lab_clean``, which removes them afterwards.
LAB_SYSTEM_NAMESPACES = frozenset({"default", "kube-system", "kube-public", "kube-node-lease"})


@pytest.fixture(scope="session")
def lab() -> Iterator[Lab]:
    """A running :class:`edgewise.lab.Lab` (kubeconfig at ``lab.kubeconfig``)."""
    try:
        find_program("kube-apiserver")
    except LabError as e:  # `make test` builds the programs first; a bare pytest may not have
        pytest.fail(str(e), pytrace=False)
    with running_lab() as running:
        yield running


@pytest.fixture
def lab_clean(lab: Lab) -> Iterator[Lab]:
    """The session's lab, emptied after the test: namespaces it created (and the
    workloads in ``default``) force-deleted, every node removed."""
    yield lab
    namespaces = [n["metadata"]["name"] for n in lab.client.list("v1", "Namespace")]
    lab.reset([n for n in namespaces if n not in LAB_SYSTEM_NAMESPACES or n == "default"])
