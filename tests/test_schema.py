import json

import numpy as np
import pandas as pd
import pytest

from tradeanomaly.errors import SchemaError
from tradeanomaly.schema import (FLOW_COLUMNS, FINDING_COLUMNS, Ledger, coerce_flows, empty_flows,
                                 flows_failures, ledgers_to_json, make_findings, validate_findings,
                                 validate_flows)


def good_rows(n=3):
    return pd.DataFrame({
        "period": ["2019", "2019-Q1", "2019-02"][:n],
        "reporter": ["CHN", "USA", "NAM"][:n],
        "region": ["CN-GD", "", ""][:n],
        "partner": ["USA", "CHN", "WLD"][:n],
        "flow": ["X", "M", "RX"][:n],
        "hs": ["TOTAL", "85", "010121"][:n],
        "value_usd": [1.0, 2.5, 0.0][:n],
        "valuation": ["FOB", "CIF", "FOB"][:n],
        "quantity": [np.nan, 3.0, 1.0][:n],
        "quantity_unit": ["", "kg", "u"][:n],
        "estimated": [False, True, False][:n],
        "source": ["test"] * n,
    })


def test_valid_table_passes_and_keeps_dtypes():
    df = validate_flows(good_rows())
    assert list(df.columns) == list(FLOW_COLUMNS)
    assert df["value_usd"].dtype == "float64"
    assert df["estimated"].dtype == bool
    assert df.loc[2, "hs"] == "010121"
    assert empty_flows().shape == (0, len(FLOW_COLUMNS))


def test_every_problem_collected_at_once_with_rows_and_fix():
    df = good_rows()
    df.loc[0, "period"] = "2019M13"
    df.loc[1, "reporter"] = "China"
    df.loc[2, "value_usd"] = -5
    df.loc[1, "hs"] = "8542.31"
    df = df.drop(columns=["valuation"])
    failures = flows_failures(df)
    found = {(r.column, r.check): r for r in failures.itertuples()}
    assert set(found) == {("valuation", "present"), ("period", "format"), ("reporter", "iso3"),
                          ("value_usd", "non_negative"), ("hs", "format")}
    assert found[("period", "format")].rows == [0]
    assert found[("reporter", "iso3")].examples == ["China"]
    with pytest.raises(SchemaError) as exc:
        validate_flows(df, where="x.csv")
    msg = str(exc.value)
    assert "x.csv: 5 problem(s)" in msg and "`reporter`" in msg and "ISO 3166-1 alpha-3" in msg
    assert len(exc.value.failures) == 5


def test_ledger_balances_and_records_examples():
    df = pd.DataFrame({"a": range(10), "b": list("xxyyzzwwvv")})
    led = Ledger("read:test", rows_in=10)
    df = led.set_aside(df, df["b"] == "x", "duplicate")
    df = led.set_aside(df, df["a"] > 7, "negative_value")
    led.finish(df)
    assert led.counts == {"duplicate": 2, "negative_value": 2, "kept": 6}
    assert led.examples["duplicate"] == [{"a": 0, "b": "x"}, {"a": 1, "b": "x"}]
    back = Ledger.from_dict(json.loads(ledgers_to_json([led]))[0])
    assert back.counts == led.counts and back.rows_in == 10


def test_ledger_imbalance_is_caught():
    led = Ledger("s", rows_in=5)
    led.keep(4)
    with pytest.raises(AssertionError, match="does not balance: 5 rows in, 4 accounted"):
        led.check()


def test_ledger_merge_adds_counts():
    a, b = Ledger("s", rows_in=3, inputs=["a.csv"]), Ledger("s", rows_in=2, inputs=["b.csv"])
    a.keep(3)
    b.add("duplicate", 1)
    b.keep(1)
    a.merge(b)
    a.check()
    assert a.counts == {"kept": 4, "duplicate": 1} and a.inputs == ["a.csv", "b.csv"]


def test_findings_contract():
    f = make_findings([{"check": "mirror", "signal": "mirror.log_gap_z", "subject": "CHN>HKG", "score": 3.2,
                        "reporter": "CHN", "partner": "HKG", "period": "2013"}])
    assert list(f.columns) == list(FINDING_COLUMNS)
    assert f.loc[0, "hub"] == "" and np.isnan(f.loc[0, "usd_at_stake"])
    validate_findings(f)
    bad = f.assign(score=-1.0)
    with pytest.raises(SchemaError, match="score"):
        validate_findings(bad)


def test_coerce_fills_missing_optional_columns():
    df = good_rows().drop(columns=["quantity", "quantity_unit", "region"])
    out = coerce_flows(df)
    assert out["region"].tolist() == ["", "", ""] and out["quantity"].isna().all()
