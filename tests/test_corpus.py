"""The public-app corpus (tests/corpus.py): every expected hazard found, false alarms
bounded; docs/check-corpus.md holds the table before and after the fixes."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import corpus


@pytest.fixture(scope="module")
def rows(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[str, set[tuple[str, str]], set[tuple[str, str]]]]:
    return list(corpus.measure(tmp_path_factory.mktemp("corpus")))


def test_expectations_cover_every_placement() -> None:
    want = corpus.expected()
    assert set(want) == set(corpus.PLACEMENTS)
    assert sum(len(v) for v in want.values()) >= 30


def test_no_expected_hazard_is_missed(rows: list[tuple[str, set[tuple[str, str]], set[tuple[str, str]]]]) -> None:
    missed = {name: sorted(want - got) for name, want, got in rows if want - got}
    assert missed == {}


def test_false_alarms_stay_few(rows: list[tuple[str, set[tuple[str, str]], set[tuple[str, str]]]]) -> None:
    alarms = {name: sorted(got - want) for name, want, got in rows if got - want}
    total = sum(len(v) for v in alarms.values())
    assert total <= corpus.MAX_FALSE_ALARMS, alarms


def test_the_documented_table_is_current(rows: list[tuple[str, set[tuple[str, str]], set[tuple[str, str]]]]) -> None:
    doc = (Path(__file__).resolve().parents[1] / "docs" / "check-corpus.md").read_text()
    assert corpus.table(rows) in doc, "regenerate the 'after' table: python tests/corpus.py"
