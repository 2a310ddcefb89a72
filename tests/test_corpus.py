"""The malformed-input corpus (see ``corpus_cases``): every reader of the registry and every class of fault ends
in a one-line error naming the file (and the row or column) with a fix, or in a balanced ledger whose counts equal
a count of the file made by the test and whose kept values are the numbers written."""

from __future__ import annotations

from collections import Counter

import pytest

import corpus_cases as cc
from tradeanomaly.sources import READERS

CASES = cc.all_cases()


def test_the_corpus_covers_every_reader_and_class():
    assert {c.spec.source for c in CASES} == set(READERS)
    classes = {c.cls for c in CASES}
    for cls in ("encoding", "truncated gzip", "binary junk", "empty file", "header-only file", "missing column",
                "duplicated column", "extra column", "text in numbers", "thousands separators", "decimal comma",
                "NaN/inf", "1e308", "negative values", "bad periods", "unknown codes", "ambiguous codes (NA)",
                "lost leading zeros", "duplicate rows", "Parquet with wrong types"):
        assert cls in classes, cls
    # every layout meets every file-level and value-level fault
    per_layout = Counter(c.spec.id for c in CASES)
    assert min(per_layout.values()) >= 22, per_layout


@pytest.mark.parametrize("case", CASES, ids=[f"{c.spec.id}-{c.fault}" for c in CASES])
def test_corpus_case(case, tmp_path):
    outcome, detail = cc.run_case(case, tmp_path)
    assert outcome == case.expect[0] or (outcome == "error" and case.alt_error), f"{outcome}: {detail}"


def test_a_decimal_comma_is_never_rescaled(tmp_path):
    """The reason and the example row: ``12,5`` is set aside as written, in every reader."""
    for case in CASES:
        if case.fault != "decimal_comma":
            continue
        from tradeanomaly.sources import read_source

        folder = tmp_path / case.spec.id
        folder.mkdir()
        (folder / case.name).write_bytes(case.data)
        options = {k: (str(folder / v) if v in case.spec.aux else v) for k, v in case.spec.options.items()}
        for name, text in case.spec.aux.items():
            (folder / name).write_text(text, encoding="utf-8")
        res = read_source(case.spec.source, [folder / case.name], **options)
        assert 12.5 * case.spec.factor not in set(res.flows["value_usd"]), case.spec.id
        assert 125 * case.spec.factor not in set(res.flows["value_usd"]), case.spec.id
        assert res.ledger.counts.get("non_numeric_value") == 1, (case.spec.id, dict(res.ledger.counts))
        examples = str(res.ledger.examples.get("non_numeric_value"))
        assert "12,5" in examples, (case.spec.id, examples)
