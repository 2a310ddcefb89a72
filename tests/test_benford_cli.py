"""The ``benford`` command: one column of any table, grouped runs, and the flows table."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from tradeanomaly.checks import benford as bf
from tradeanomaly.cli import main

KEYS = {"n", "digits", "counts", "expected", "observed", "z", "chi2", "chi2_pvalue", "ks", "ks_critical", "mad",
        "mad_expected", "excess_mad", "conformity"}


@pytest.fixture()
def table(tmp_path):
    rng = np.random.default_rng(21)
    x = np.round(10 ** rng.normal(3.5, 1.2, 4000), 2)
    x[:300] = -x[:300]
    x[300:320] = 0.0
    df = pd.DataFrame({"amount": x, "vendor": np.where(np.arange(4000) % 2 == 0, "A", "NA")})
    path = tmp_path / "payments.csv"
    df.to_csv(path, index=False)
    return path, x


def test_json_single_sample(table):
    path, x = table
    res = CliRunner().invoke(main, ["benford", str(path), "--column", "amount", "--json"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert set(out["tests"]) == {"first_digit", "second_digit", "first_two_digits", "last_two_digits", "summation"}
    for name, t in out["tests"].items():
        assert KEYS <= set(t), name
    expect = bf.benford(x).to_dict()
    assert out["n"] == expect["n"] == int((x >= 10).sum())
    assert out["tests"]["first_two_digits"]["mad"] == expect["tests"]["first_two_digits"]["mad"]
    assert out["tests"]["first_digit"]["counts"] == expect["tests"]["first_digit"]["counts"]
    # negatives are analysed apart
    assert out["negative"]["n"] == int((-x[:300] >= 10).sum())
    assert out["tests"]["summation"]["chi2"] is None  # amounts are not counts


def test_min_value_and_text(table):
    path, x = table
    res = CliRunner().invoke(main, ["benford", str(path), "--column", "amount", "--min-value", "0", "--json"],
                             catch_exceptions=False)
    assert json.loads(res.output)["n"] == int((x > 0).sum())
    txt = CliRunner().invoke(main, ["benford", str(path), "--column", "amount"], catch_exceptions=False)
    assert txt.exit_code == 0 and "first_two_digits" in txt.output and "MAD" in txt.output


def test_group_by_keeps_namibia(table):
    path, x = table
    res = CliRunner().invoke(main, ["benford", str(path), "--column", "amount", "--group-by", "vendor", "--json"],
                             catch_exceptions=False)
    out = json.loads(res.output)
    keys = [g["key"]["vendor"] for g in out["groups"]]
    assert keys == ["A", "NA"]  # "NA" (Namibia) is a code, not a missing value
    na = out["groups"][1]
    xs = x[np.arange(4000) % 2 == 1]
    assert na["n"] == int((xs >= 10).sum())
    assert 0 <= na["qvalues"]["first_digit"] <= 1


def test_errors_are_clean(table, tmp_path):
    path, _ = table
    res = CliRunner().invoke(main, ["benford", str(path), "--column", "nope"])
    assert res.exit_code == 1 and "nope" in res.output and "amount" in res.output
    res = CliRunner().invoke(main, ["benford", str(path)])
    assert res.exit_code == 1 and "--column" in res.output


def test_flows_table_grouped_by_reporter(tmp_path):
    rng = np.random.default_rng(22)
    from tradeanomaly.schema import coerce_flows

    reporters = ["AAA", "BBB", "CCC", "DDD", "EEE", "FFF", "GGG", "HHH", "III", "JJJ", "KKK", "LLL"]
    frames = []
    for r in reporters:
        x = np.rint(10 ** rng.normal(5, 1.2, 500))
        if r == "DDD":
            x[:200] = np.round(x[:200], -3)  # 40 % padded to thousands (all of them would just be the unit)
        hs = [f"{850000 + k:06d}" for k in range(500)]  # one figure per product: the flows key is unique
        frames.append(pd.DataFrame({"period": "2021", "reporter": r, "partner": "USA", "flow": "X", "hs": hs,
                                    "value_usd": x, "valuation": "FOB", "estimated": False, "source": "test"}))
    flows = coerce_flows(pd.concat(frames, ignore_index=True))
    path = tmp_path / "flows.csv"
    flows.to_csv(path, index=False)
    res = CliRunner().invoke(main, ["benford", str(path), "--source", "canonical", "--json"],
                             catch_exceptions=False)
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert len(out["audit"]) == 12
    top = out["findings"][0]
    assert top["subject"] == "DDD" and top["signal"] in ("benford.round_numbers", "benford.last_two_digits")
    assert out["ledger"][0]["rows_in"] == 6000
