"""The retrieval eval sets point at documents that exist: a renamed or removed document would
otherwise count as a miss in every figure docs/performance.md reports, with nothing failing."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from knowledge import corpus
from tests.conftest import DEMO_CORPUS

EVAL = Path(__file__).resolve().parent.parent.parent / "knowledge" / "eval"
KINDS = {"exact", "paraphrase", "nynorsk", "typo", "ascii", "long"}


@pytest.mark.parametrize("name", ["queries.jsonl", "heldout.jsonl"])
def test_every_expected_document_exists_and_every_query_is_well_formed(name: str) -> None:
    ids = {document.id for document in corpus.read_file(DEMO_CORPUS)}
    rows = [json.loads(line) for line in (EVAL / name).read_text(encoding="utf-8").splitlines()]
    assert rows
    for row in rows:
        assert set(row) == {"q", "expected", "kind"}, row
        assert row["q"].strip(), row
        assert row["kind"] in KINDS, row
        assert 1 <= len(row["expected"]) <= 3, row
        assert set(row["expected"]) <= ids, f"{row['q']!r}: {set(row['expected']) - ids}"
    duplicates = [q for q, n in Counter(r["q"] for r in rows).items() if n > 1]
    assert not duplicates


def test_the_held_out_set_shares_no_query_with_the_tuning_set() -> None:
    def queries(name: str) -> set[str]:
        lines = (EVAL / name).read_text(encoding="utf-8").splitlines()
        return {json.loads(line)["q"].casefold().strip() for line in lines}

    assert not queries("queries.jsonl") & queries("heldout.jsonl")
