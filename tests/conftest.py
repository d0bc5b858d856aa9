"""Shared test fixtures: where the repository, its examples and the reference data live.

Kept deliberately small and generic so every test module can lean on it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

REPO_ROOT = Path(__file__).resolve().parents[1]
EXAMPLES_DIR = REPO_ROOT / "examples"
# Upstream schemas and other reference material live beside the repository; tests may read
# them, the product never does.
SHARED_DIR = (REPO_ROOT / ".." / "shared").resolve()


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
