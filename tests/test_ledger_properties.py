"""Every reader, fed small malformed files of its own format, either refuses the file with a message naming it
or returns a ledger that accounts for every data row (every cell for wide formats): ``rows_in`` equals what was
written and ``rows_in == sum(ledger.counts)``.

Malformations drawn by hypothesis: a missing column, text and thousands separators in value columns, negative
values, duplicated rows, unknown countries, an empty file, latin-1 or GB18030 bytes, blank lines.
"""

from __future__ import annotations

import csv
import importlib
import io
from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tradeanomaly.errors import TradeAnomalyError
from tradeanomaly.sources import READERS, read_source

MALFORMATIONS = ("none", "missing_column", "empty_file", "blank_lines", "latin1", "gb18030")


@dataclass
class Case:
    name: str
    text: str                      # file content before encoding
    expected: int                  # data rows (or cells) written
    encoding: str = "utf-8"
    options: dict = field(default_factory=dict)
    aux: dict = field(default_factory=dict)  # extra files: name -> text (e.g. a column map)
    raw: bytes | None = None       # exact bytes (empty file)


def _csv(rows: list[list], sep: str = ",") -> str:
    buf = io.StringIO()
    csv.writer(buf, delimiter=sep, lineterminator="\n").writerows(rows)
    return buf.getvalue()


def _value(draw) -> str:
    return draw(st.sampled_from(["1234", "987654.25", "0", "-15", "abc", "", "1,234,567", "3e5", "NaN"]))


def _rows(draw, make_row, min_size=0, max_size=6) -> list[list]:
    rows = [make_row(draw) for _ in range(draw(st.integers(min_size, max_size), label="rows"))]
    if rows and draw(st.booleans()):  # duplicates
        rows.append(list(rows[draw(st.integers(0, len(rows) - 1))]))
    return rows


def _finish(draw, name: str, header: list[str], rows: list[list], units_per_row: int, malformation: str,
            required: list[str], sep: str = ",", before: str = "", **kw) -> Case:
    """Write header + rows with one malformation; ``units_per_row`` cells per data row."""
    expected = len(rows) * units_per_row
    if malformation == "missing_column":
        drop = draw(st.sampled_from(required))
        j = header.index(drop)
        header = header[:j] + header[j + 1:]
        rows = [r[:j] + r[j + 1:] for r in rows]
    text = before + _csv([header] + rows, sep)
    if malformation == "blank_lines":
        lines = text.split("\n")
        head_lines = before.count("\n") + 1
        out = lines[:head_lines]
        for line in lines[head_lines:]:
            out.append(line)
            if line and draw(st.booleans()):
                out.append("")
        text = "\n".join(out)
    encoding = {"latin1": "latin-1", "gb18030": "gb18030"}.get(malformation, "utf-8")
    if malformation == "empty_file":
        return Case(name, "", 0, raw=b"", **kw)
    return Case(name, text, expected, encoding=encoding, **kw)


def _exotic(malformation: str) -> str:
    return {"latin1": "Côte d'Ivoire", "gb18030": "中国香港"}.get(malformation, "Viet Nam")


# -- one generator per reader -----------------------------------------------------------------------------------

def gen_canonical(draw, mal: str) -> Case:
    header = ["period", "reporter", "region", "partner", "flow", "hs", "value_usd", "valuation", "quantity",
              "quantity_unit", "estimated", "source"]

    def row(d):
        return [d(st.sampled_from(["2023", "2023-05", "2024-Q1"])), d(st.sampled_from(["CHN", "USA", "ZZZ", ""])),
                "", d(st.sampled_from(["VNM", "WLD", "QQQ"])), d(st.sampled_from(["X", "M"])),
                d(st.sampled_from(["TOTAL", "010121", "85"])), _value(d), "", d(st.sampled_from(["", "12", "x"])),
                "", d(st.sampled_from(["", "true", "0"])), "canonical-" + _exotic(mal)]
    rows = _rows(draw, row)
    return _finish(draw, "flows.csv", header, rows, 1, mal, ["partner", "value_usd", "hs"])


def gen_comtrade(draw, mal: str) -> Case:
    header = ["freqCode", "refYear", "refMonth", "period", "reporterCode", "partnerCode", "partnerDesc",
              "partner2Code", "flowCode", "classificationCode", "cmdCode", "customsCode", "motCode",
              "primaryValue", "cifvalue", "fobvalue", "netWgt", "qty", "qtyUnitAbbr"]

    def row(d):
        return ["A", "2023", "52", "2023", d(st.sampled_from(["156", "842", "999999"])),
                d(st.sampled_from(["0", "704", "97", "899", "123456"])), _exotic(mal),
                d(st.sampled_from(["0", "0", "344"])), d(st.sampled_from(["X", "M", "RX", "DX"])),
                d(st.sampled_from(["H6", "H6", "S4"])), d(st.sampled_from(["TOTAL", "10121", "851712", "85"])),
                d(st.sampled_from(["C00", "C00", "C01"])), d(st.sampled_from(["0", "0", "2100"])),
                _value(d), d(st.sampled_from(["", "100"])), "", d(st.sampled_from(["", "12.5", "-1"])), "", ""]
    rows = _rows(draw, row)
    sep = draw(st.sampled_from([",", "\t"]))
    return _finish(draw, "comtrade.csv" if sep == "," else "comtrade.txt", header, rows, 1, mal,
                   ["cmdCode", "primaryValue", "flowCode", "motCode"], sep=sep)


def gen_baci(draw, mal: str) -> Case:
    header = ["t", "i", "j", "k", "v", "q"]

    def row(d):
        return [d(st.sampled_from(["2019", "2019", "20x9"])), d(st.sampled_from(["156", "842", "999"])),
                d(st.sampled_from(["704", "251", "899", "998"])), d(st.sampled_from(["10121", "847130", "ABC"])),
                _value(d), d(st.sampled_from(["NA", "", "12.5", "-3"]))]
    rows = _rows(draw, row)
    if mal in ("latin1", "gb18030") and rows:
        rows[0][5] = _exotic(mal)  # a stray non-ASCII quantity
    return _finish(draw, "BACI_HS17_Y2019_V202401.csv", header, rows, 1, mal, ["k", "v", "i"])


def gen_china_customs(draw, mal: str) -> Case:
    before = "(8)2024年3月进出口商品收发货人所在地总值表(美元值)\n单位：千美元\n"
    flows = ["进出口", "出口", "进口"]
    header = ["收发货人所在地"] + [f"{f}3月" for f in flows] + [f"{f}1至3月" for f in flows]

    def row(d):
        loc = d(st.sampled_from(["总值", "广东省", "浙江", "Henan", "亚洲", "火星", "新疆维吾尔自治区"]))
        return [loc] + [_value(d) for _ in range(6)]
    rows = _rows(draw, row, min_size=1)
    dropped = 0
    if mal == "missing_column":
        mal_col = draw(st.sampled_from(header[1:]))
        j = header.index(mal_col)
        header = header[:j] + header[j + 1:]
        rows = [r[:j] + r[j + 1:] for r in rows]
        dropped = 1
        mal = "none"
    case = _finish(draw, "gacc_2024_03.csv", header, rows, 6 - dropped, mal, [], before=before)
    if mal != "gb18030" and mal != "empty_file":
        case.encoding = draw(st.sampled_from(["utf-8", "gb18030"]))
    return case


def gen_imf_dots(draw, mal: str) -> Case:
    periods = ["2022", "2023"]
    header = ["Country Name", "Country Code", "Indicator Name", "Indicator Code", "Counterpart Country Name",
              "Counterpart Country Code", "Attribute"] + periods

    def row(d):
        code = d(st.sampled_from(["TXG_FOB_USD", "TMG_CIF_USD", "TBG_USD"]))
        return [_exotic(mal), d(st.sampled_from(["924", "111", "99999"])), "Goods, Value of Trade", code,
                "World", d(st.sampled_from(["001", "134", "158", "77777"])), "Value"] + [_value(d) for _ in periods]
    rows = _rows(draw, row)
    return _finish(draw, "dots.csv", header, rows, len(periods), mal, ["Indicator Code", "Country Code"])


TABLE_MAP = """source: test-table
renames:
  rep: reporter
  par: partner
  dir: flow
  amount: value_usd
period: year
country_system: iso3
flow_labels:
  Exports: X
  Imports: M
constants:
  hs: TOTAL
"""


def gen_table(draw, mal: str) -> Case:
    header = ["year", "rep", "par", "dir", "amount", "note"]

    def row(d):
        return [d(st.sampled_from(["2021", "2022"])), d(st.sampled_from(["CHN", "USA", "XXX"])),
                d(st.sampled_from(["VNM", "WLD", "QQQ"])), d(st.sampled_from(["Exports", "Imports", "Balance"])),
                _value(d), _exotic(mal)]
    rows = _rows(draw, row)
    case = _finish(draw, "table.csv", header, rows, 1, mal, ["amount", "rep", "dir"])
    case.aux = {"map.yaml": TABLE_MAP}
    case.options = {"column_map": "map.yaml"}
    return case


def gen_census(draw, mal: str) -> Case:
    header = ["CTY_CODE", "CTY_NAME", "I_COMMODITY", "CON_VAL_MO", "time"]

    def row(d):
        return [d(st.sampled_from(["5700", "5520", "0003", "9999", "-"])), _exotic(mal),
                d(st.sampled_from(["-", "85", "851712", "10121"])), _value(d),
                d(st.sampled_from(["2024-03", "2024-04"]))]
    rows = _rows(draw, row)
    return _finish(draw, "census_imports.csv", header, rows, 1, mal, ["CON_VAL_MO", "CTY_CODE"])


GENERATORS = {
    "census": gen_census,
    "canonical": gen_canonical,
    "comtrade": gen_comtrade,
    "baci": gen_baci,
    "china-customs": gen_china_customs,
    "imf-dots": gen_imf_dots,
    "table": gen_table,
}


def _reader_available(source: str) -> str | None:
    """None when the reader can be tested, else the reason to skip."""
    try:
        importlib.import_module(READERS[source])
    except ModuleNotFoundError as exc:
        if exc.name == READERS[source]:
            return f"reader module {READERS[source]} is not written yet"
        raise
    if source not in GENERATORS:
        return f"no malformed-file generator for source `{source}` in this test yet"
    return None


@pytest.mark.parametrize("source", sorted(READERS))
@settings(max_examples=15, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_reader_accounts_for_every_row_or_refuses_the_file(source, data, tmp_path):
    reason = _reader_available(source)
    if reason:
        pytest.skip(reason)
    mal = data.draw(st.sampled_from(MALFORMATIONS), label="malformation")
    case = GENERATORS[source](data.draw, mal)
    folder = tmp_path / f"{source}-{abs(hash(case.text)) % 10**8}"
    folder.mkdir(exist_ok=True)
    path = folder / case.name
    path.write_bytes(case.raw if case.raw is not None else case.text.encode(case.encoding, errors="replace"))
    options = dict(case.options)
    for name, text in case.aux.items():
        (folder / name).write_text(text, encoding="utf-8")
        for k, v in options.items():
            if v == name:
                options[k] = str(folder / name)
    try:
        res = read_source(source, path, **options)
    except TradeAnomalyError as exc:
        assert case.name in str(exc), f"the message does not name the file: {exc}"
        return
    led = res.ledger
    assert led.rows_in == sum(led.counts.values()), dict(led.counts)
    assert led.rows_in == case.expected, (mal, dict(led.counts), case.text)
    assert led.kept == len(res.flows)


# -- the command line on a malformed file -----------------------------------------------------------------------

def test_ingest_cli_reports_a_bad_file_in_one_line(tmp_path):
    ingest = pytest.importorskip("tradeanomaly.commands.ingest", reason="`tradeanomaly ingest` is not built yet")
    del ingest
    from click.testing import CliRunner

    from tradeanomaly.cli import main

    bad = tmp_path / "BACI_HS17_Y2019_V202401.csv"
    bad.write_text("year;exporter;importer\n2019;156;842\n")
    result = CliRunner().invoke(main, ["ingest", "--source", "baci", "--out", str(tmp_path / "out"), str(bad)])
    assert result.exit_code == 1, result.output
    message = (result.output or "").strip()
    assert isinstance(result.exception, SystemExit) and "Traceback" not in message
    assert message.startswith("Error: ") and "BACI_HS17_Y2019_V202401.csv" in message
    assert "\n" not in message, message
