"""The IMF DOTS bulk-CSV reader: wide periods, Value/Status rows, indicators, cell ledger."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import shared_file
from tradeanomaly.errors import ConfigError, SourceFormatError
from tradeanomaly.sources import read_source
from tradeanomaly.sources.imf_dots import read

HEAD = ("Country Name,Country Code,Indicator Name,Indicator Code,Counterpart Country Name,"
        "Counterpart Country Code,Attribute")
X = '"Goods, Value of Exports, Free on board (FOB), US Dollars",TXG_FOB_USD'
M = '"Goods, Value of Imports, Cost, Insurance, Freight (CIF), US Dollars",TMG_CIF_USD'
MF = '"Goods, Value of Imports, Free on board (FOB), US Dollars",TMG_FOB_USD'
B = '"Goods, Trade Balance, US Dollars",TBG_USD'


def _write(tmp_path: Path, periods: list[str], lines: list[str], name="dots.csv", encoding="utf-8") -> Path:
    path = tmp_path / name
    text = "\n".join([HEAD + "," + ",".join(periods) + ",", *lines]) + "\n"
    path.write_bytes(text.encode(encoding))
    return path


@pytest.fixture(scope="module")
def g7(shared_data):
    return read_source("imf-dots", shared_file(shared_data, "imf_dots_monthly_g7_2024m2", "DOTS_G7_2024M2.csv"))


def _value(flows, reporter, partner, flow):
    sel = flows[(flows.reporter == reporter) & (flows.partner == partner) & (flows.flow == flow)]
    assert len(sel) == 1, (reporter, partner, flow, len(sel))
    return float(sel["value_usd"].iloc[0])


def test_g7_sample_values(g7):
    f = g7.flows
    assert set(f["period"]) == {"2024-02"}
    assert _value(f, "CAN", "GBR", "X") == 1_719_931_277
    assert _value(f, "GBR", "CAN", "M") == 372_616_713  # the gold-shaped gap described in PROVENANCE
    assert _value(f, "JPN", "USA", "X") == 11_567_346_849
    assert _value(f, "USA", "JPN", "M") == 11_698_309_469
    assert _value(f, "USA", "JPN", "M") / _value(f, "JPN", "USA", "X") == pytest.approx(1.0113, abs=1e-4)
    assert _value(f, "CAN", "GBR", "M") == 596_876_172  # the CIF series, not Canada's FOB one
    can_m = f[(f.reporter == "CAN") & (f.flow == "M")]
    assert set(can_m["valuation"]) == {"CIF"}
    assert set(f.loc[f.flow == "X", "valuation"]) == {"FOB"}
    assert not f["estimated"].any()  # statuses in this file are only "r" (revised) or empty


def test_g7_sample_cell_ledger(g7):
    led = g7.ledger
    assert led.unit == "cell" and led.stage == "read:imf-dots"
    assert led.rows_in == 180  # 132 Value + 48 Status lines, one period column
    assert dict(led.counts) == {"status_row": 48, "not_a_flow": 42, "other_valuation": 6, "kept": 84}
    assert (g7.flows["flow"] == "X").sum() == 42 and (g7.flows["flow"] == "M").sum() == 42
    assert any("180 data line(s) x 1 period column(s)" in n for n in led.notes)
    assert led.examples["not_a_flow"][0]["indicator"] == "TBG_USD"


def test_import_valuation_options(shared_data):
    path = shared_file(shared_data, "imf_dots_monthly_g7_2024m2", "DOTS_G7_2024M2.csv")
    both = read(path, import_valuation="both")
    assert both.ledger.kept == 90 and "other_valuation" not in both.ledger.counts
    fob = read(path, import_valuation="FOB")
    assert fob.ledger.counts["other_valuation"] == 6
    assert _value(fob.flows, "CAN", "GBR", "M") == 563_090_728
    with pytest.raises(ConfigError, match="import_valuation"):
        read(path, import_valuation="cif-ish")


def test_wide_layout_with_statuses_and_every_reason(tmp_path):
    periods = ["2019", "2020", "2020Q1"]
    lines = [
        f"China,924,{X},United States,111,Value,100,200,50",
        f"China,924,{X},United States,111,Status,e,,e r",            # 2019 and 2020Q1 estimated
        f"United States,111,{M},China,924,Value,110,,60",              # 2020 empty
        f"United States,111,{M},China,924,Status,,,",
        f"United States,111,{MF},China,924,Value,105,190,",            # FOB kept only for 2020 (no CIF)
        f"China,924,{B},United States,111,Value,-10,,",                 # trade balance
        f"China,924,{X},World,001,Value,1000,2000,500",                # world partner kept as WLD
        f"China,924,{X},Advanced Economies,110,Value,700,800,300",     # aggregate partner
        f"Advanced Economies,110,{X},China,924,Value,1,2,3",           # aggregate reporter
        f"China,924,{X},Atlantis,999,Value,5,6,",                      # unknown partner (code and name)
        f"China,924,{X},\"China, P.R.: Hong Kong\",,Value,7,n/a?,-3",  # name fallback; text; negative
        f"China,924,{X},Japan,158,Status,e,e,e",                       # status without a value line
        f"China,924,{X},United States,111,Value,100,200,50",           # the first line again
    ]
    res = read(_write(tmp_path, periods, lines))
    led = res.ledger
    assert led.rows_in == 13 * 3
    assert dict(led.counts) == {
        "status_row": 6, "orphan_status": 3, "missing_value": 5, "not_a_flow": 1, "other_valuation": 1,
        "aggregate_area": 6, "unknown_country": 2, "non_numeric_value": 1, "negative_value": 1,
        "duplicate": 3, "kept": 10,
    }
    assert led.examples["unknown_country"][0]["unknown"] == "999"
    assert led.examples["unknown_country"][0]["partner_name"] == "Atlantis"
    assert led.examples["non_numeric_value"][0]["value_usd"] == "n/a?"
    f = res.flows.set_index(["reporter", "partner", "flow", "period", "valuation"])
    assert f.loc[("CHN", "USA", "X", "2019", "FOB"), "estimated"]
    assert not f.loc[("CHN", "USA", "X", "2020", "FOB"), "estimated"]
    assert f.loc[("CHN", "USA", "X", "2020-Q1", "FOB"), "estimated"]
    assert f.loc[("USA", "CHN", "M", "2020", "FOB"), "value_usd"] == 190
    assert f.loc[("CHN", "WLD", "X", "2020", "FOB"), "value_usd"] == 2000
    assert f.loc[("CHN", "HKG", "X", "2019", "FOB"), "value_usd"] == 7
    assert len(res.flows) == 10


def test_value_multiplier_and_estimate_codes(tmp_path):
    lines = [f"China,924,{X},United States,111,Value,1.5", f"China,924,{X},United States,111,Status,p"]
    path = _write(tmp_path, ["2024M1"], lines)
    res = read(path, value_multiplier=1e6, estimate_codes="p")
    assert res.flows["value_usd"].tolist() == [1_500_000.0]
    assert res.flows["estimated"].tolist() == [True]
    assert res.flows["period"].tolist() == ["2024-01"]


def test_multiple_files(tmp_path):
    a = _write(tmp_path, ["2019"], [f"China,924,{X},United States,111,Value,1"], name="a.csv")
    b = _write(tmp_path, ["2019", "2020"], [f"China,924,{X},United States,111,Value,1,2"], name="b.csv")
    res = read_source("imf-dots", [a, b])
    assert res.ledger.rows_in == 3 and dict(res.ledger.counts) == {"kept": 2, "duplicate": 1}
    assert res.ledger.inputs == ["a.csv", "b.csv"]


@pytest.mark.parametrize("encoding,name", [("gb18030", "中国"), ("latin-1", "Côte d'Ivoire")])
def test_encodings(tmp_path, encoding, name):
    lines = [f"{name},,{X},United States,111,Value,10", f"{name},,{X},France,132,Value,20"]
    res = read(_write(tmp_path, ["2019"], lines, encoding=encoding))
    assert res.ledger.kept == 2
    assert set(res.flows["reporter"]) == ({"CHN"} if name == "中国" else {"CIV"})


def test_malformed_files(tmp_path):
    (tmp_path / "empty.csv").write_bytes(b"")
    with pytest.raises(SourceFormatError, match="empty"):
        read(tmp_path / "empty.csv")
    bad = tmp_path / "nocode.csv"
    bad.write_text("Country Name,Indicator Code,Attribute,2019\nChina,TXG_FOB_USD,Value,1\n")
    with pytest.raises(SourceFormatError, match="`Country Code`"):
        read(bad)
    noperiod = _write(tmp_path, ["Scale"], [f"China,924,{X},United States,111,Value,1"], name="np.csv")
    with pytest.raises(SourceFormatError, match="no period columns"):
        read(noperiod)
    with pytest.raises(ConfigError, match="no column map"):
        read(noperiod, column_map={"renames": {}})


def test_a_period_column_named_twice_is_refused(tmp_path):
    # a bulk file with 2024M2 twice: a CSV parser renames the copy (2024M2.1) and half the cells were dropped
    lines = [f"China,924,{X},United States,111,Value,1.5,2.5,3.5"]
    path = _write(tmp_path, ["2024M1", "2024M2", "2024M2"], lines)
    with pytest.raises(SourceFormatError, match=r"names column\(s\) `2024M2` more than once") as exc:
        read(path)
    assert str(path) in str(exc.value)
