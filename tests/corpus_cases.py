"""The malformed-input corpus: every reader of the registry, fed a good file of its format and every class of fault.

Each case is generated from code (no third-party data). Its outcome must be one of:

- ``error``: a one-line message (through :func:`tradeanomaly.cli.handle_errors`, so no traceback) naming the file,
  the row or column where the fault is one of a row or column, and saying how to fix it;
- ``read``: a balanced ledger (rows in = kept + set aside by reason) whose ``rows_in`` equals a count of the file
  made here (data lines, or lines x value columns for wide layouts, counted on the text written), and whose kept
  values are exactly the numbers written (times the layout's unit), the faulted cell set aside or read as written.

``python tests/corpus_cases.py`` runs the corpus and prints the summary (cases, classes, outcomes).
"""

from __future__ import annotations

import csv
import gzip
import io
import random
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path

import click
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
FIX_WORDS = ("give", "use", "save", "remove", "rename", "keep", "check", "add", "write", "choose", "set ", "fix",
             "download", "convert", "expected", "quote", "split", "one of", "e.g.", "for example", "drop", "map ", "--source",
             "request", "pass ")


@dataclass
class Spec:
    """A good file of one reader's format: ``rows`` of text cells under ``header``, ``value_cols`` counted cells
    per line (one for long layouts), ``kept_cols`` those whose value is kept (x ``factor``)."""

    id: str
    source: str
    name: str
    header: list
    rows: list
    value_cols: list
    factor: float = 1.0
    kept_cols: list | None = None
    prefix: str = ""
    options: dict = field(default_factory=dict)
    aux: dict = field(default_factory=dict)
    text_col: str | None = None
    partner_col: str | None = None
    unknown_code: str | dict = ""
    namibia: dict = field(default_factory=dict)
    period_col: str | None = None
    bad_period: str = "2024-13"
    period_cols: tuple = ()         # further columns holding the period (all get the bad period)
    required_col: str | None = None  # the column whose absence is an error (default: the first value column)
    dup_col: str | None = None       # the column written twice (default: the partner column)
    hs_col: str | None = None
    lost_zero: tuple = ()           # (text written, hs expected when restored)
    parquet: bool = False
    overrides: dict = field(default_factory=dict)  # fault -> expectation replacing the default

    @property
    def kept(self):
        return self.kept_cols or self.value_cols


def _cells(i: int, n: int) -> list[str]:
    return [str(1000 * (i + 1) + 10 * (j + 1) + 7) for j in range(n)]


TABLE_MAP = """source: corpus-table
renames: {rep: reporter, par: partner, dir: flow, amount: value_usd, product: hs}
period: year
country_system: iso2
flow_labels: {Exports: X, Imports: M}
"""


def specs() -> list[Spec]:
    canon = ["period", "reporter", "region", "partner", "flow", "hs", "value_usd", "valuation", "quantity",
             "quantity_unit", "estimated", "source"]
    partners = [("VNM", "VN", "704", "582", "5520", "Viet Nam"), ("USA", "US", "842", "111", "", "United States"),
                ("DEU", "DE", "276", "134", "4280", "Germany"), ("JPN", "JP", "392", "158", "5880", "Japan")]
    census_codes = ["5520", "5700", "4280", "5880"]
    hs = ["010121", "8517", "851712", "85"]
    out = [
        Spec("canonical-csv", "canonical", "flows.csv", canon,
             [["2023", "CHN", "", p[0], "X", hs[i], _cells(i, 1)[0], "FOB", "12", "kg", "false", "canonical"]
              for i, p in enumerate(partners)], ["value_usd"], text_col="source", partner_col="partner",
             unknown_code="ZZ", namibia={"partner": "NAM", "quantity_unit": "NA"}, period_col="period",
             hs_col="hs", lost_zero=("10121", "010121"), parquet=True,
             overrides={"extra_column": ("error", "column")}),
        Spec("table-csv", "table", "table.csv", ["year", "rep", "par", "dir", "product", "amount", "note"],
             [["2022", "CN", p[1], "Exports", hs[i], _cells(i, 1)[0], "ok"] for i, p in enumerate(partners)],
             ["amount"], options={"column_map": "map.yaml"}, aux={"map.yaml": TABLE_MAP}, text_col="note",
             partner_col="par", unknown_code="QQ", namibia={"par": "NA"}, period_col="year", bad_period="20x2",
             hs_col="product", lost_zero=("10121", "010121"), parquet=True),
        Spec("table-imf-dots-long", "table", "dots_long.csv", ["reporter", "partner", "flow", "year", "value_musd",
                                                                "flag"],
             [["China, P.R.: Mainland", p[5], "X", "2019", _cells(i, 1)[0], ""] for i, p in enumerate(partners)],
             ["value_musd"], factor=1e6,
             options={"column_map": str(REPO / "configs" / "maps" / "imf-dots-long.yaml")}, text_col="partner",
             partner_col="partner", unknown_code="Atlantis", namibia={"partner": "Namibia"}, period_col="year",
             bad_period="19x9"),
        Spec("imf-dots-bulk", "imf-dots", "dots.csv",
             ["Country Name", "Country Code", "Indicator Name", "Indicator Code", "Counterpart Country Name",
              "Counterpart Country Code", "Attribute", "2022", "2023"],
             [["China, P.R.: Mainland", "924", "Goods, Value of Exports, FOB, US Dollars", "TXG_FOB_USD", p[5], p[3],
               "Value"] + _cells(i, 2) for i, p in enumerate(partners)], ["2022", "2023"],
             text_col="Country Name", partner_col="Counterpart Country Code", unknown_code={"Counterpart Country Code": "77777",
                                                                       "Counterpart Country Name": "Atlantis"},
             required_col="Indicator Code", dup_col="2022",
             namibia={"Counterpart Country Code": "728", "Counterpart Country Name": "NA"}),
        Spec("comtrade-csv", "comtrade", "comtrade.csv",
             ["freqCode", "refYear", "refMonth", "period", "reporterCode", "partnerCode", "partnerDesc",
              "partner2Code", "flowCode", "classificationCode", "cmdCode", "customsCode", "motCode", "primaryValue",
              "cifvalue", "fobvalue", "netWgt", "qty", "qtyUnitAbbr"],
             [["A", "2023", "52", "2023", "156", p[2], p[5], "0", "X", "H6", hs[i], "C00", "0", _cells(i, 1)[0],
               "", "", "12.5", "", ""] for i, p in enumerate(partners)], ["primaryValue"], text_col="partnerDesc",
             partner_col="partnerCode", unknown_code="123456", namibia={"partnerCode": "516", "partnerDesc": "NA"},
             period_col="period", period_cols=("refYear",), bad_period="20x3", hs_col="cmdCode",
             lost_zero=("10121", "010121"), required_col="cmdCode"),
        Spec("baci", "baci", "BACI_HS17_Y2019_V202401.csv", ["t", "i", "j", "k", "v", "q"],
             [["2019", "156", p[2], h if h != "010121" else "10121", _cells(i, 1)[0], "1.5"]
              for i, (p, h) in enumerate(zip(partners, ["010121", "847130", "851712", "852990"]))], ["v"],
             factor=1000.0, text_col="q", partner_col="j", unknown_code="998", namibia={"j": "516"},
             period_col="t", bad_period="20x9", hs_col="k", lost_zero=("20110", "020110")),
        Spec("census", "census", "census_imports.csv", ["CTY_CODE", "CTY_NAME", "I_COMMODITY", "CON_VAL_MO", "time"],
             [[c, p[5].upper(), hs[i], _cells(i, 1)[0], "2024-03"]
              for i, (c, p) in enumerate(zip(census_codes, partners))], ["CON_VAL_MO"], text_col="CTY_NAME",
             partner_col="CTY_CODE", unknown_code={"CTY_CODE": "9999", "CTY_NAME": "ATLANTIS"},
             namibia={"CTY_CODE": "7920", "CTY_NAME": "NA"},
             period_col="time", hs_col="I_COMMODITY", lost_zero=("10121", "010121")),
        Spec("china-customs", "china-customs", "gacc_2024_03.csv", ["收发货人所在地", "出口3月", "进口3月"],
             [[loc] + _cells(i, 2) for i, loc in enumerate(["广东省", "浙江省", "江苏省", "北京市"])],
             ["出口3月", "进口3月"], factor=1000.0, required_col="收发货人所在地", dup_col="出口3月",
             prefix="(8)2024年3月进出口商品收发货人所在地总值表(美元值)\n单位：千美元\n",
             partner_col="收发货人所在地", unknown_code="火星"),
    ]
    return out


# -- writing a file and counting it here --------------------------------------------------------------------

def to_csv(header, rows) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows([header] + rows)
    return buf.getvalue()


def count_units(text: str, spec: Spec, header_lines: int = 1) -> int:
    """Data lines (non-blank lines after the prefix and header) times the counted cells per line."""
    lines = [ln for ln in text.split("\n")[spec.prefix.count("\n") + header_lines:] if ln.strip()]
    return len(lines) * len(spec.value_cols)


@dataclass
class Case:
    spec: Spec
    fault: str
    cls: str                       # class of fault (the README's list)
    name: str                      # file name written
    data: bytes
    expect: tuple                  # ("error", "file"|"row"|"column", *words) or ("read", units, kept, checks)
    column: str | None = None      # the column an error must name
    alt_error: str | None = None   # a read case may instead be refused, naming this ("row")


def _expected_kept(spec: Spec, drop: set = frozenset(), change: dict | None = None, rows=None) -> list[float]:
    """Kept values of ``rows`` (default the spec's), without cells ``(row, col)`` in ``drop``; ``change`` maps a
    cell to the value it must be read as (None: set aside)."""
    rows = spec.rows if rows is None else rows
    out = []
    for i, r in enumerate(rows):
        for c in spec.kept:
            if (i, c) in drop or (i, "*") in drop:
                continue
            if change and (i, c) in change:
                v = change[(i, c)]
                if v is not None:
                    out.append(v)
                continue
            out.append(float(r[spec.header.index(c)]) * spec.factor)
    return sorted(out)


def _with_cell(spec: Spec, i: int, col: str, text: str) -> list:
    rows = [list(r) for r in spec.rows]
    rows[i][spec.header.index(col)] = text
    return rows


def _read_case(spec, fault, cls, rows=None, header=None, *, kept=None, checks=(), encoding="utf-8", name=None,
               bom=False, header_lines=1, text=None):
    header = spec.header if header is None else header
    rows = spec.rows if rows is None else rows
    text = spec.prefix + to_csv(header, rows) if text is None else text
    data = text.encode(encoding)
    if bom:
        data = b"\xef\xbb\xbf" + data
    units = count_units(text, spec, header_lines)
    return Case(spec, fault, cls, name or spec.name, data,
                ("read", units, _expected_kept(spec) if kept is None else kept, tuple(checks)))


F = 1  # the faulted row


def cases_for(spec: Spec) -> list[Case]:
    good = spec.prefix + to_csv(spec.header, spec.rows)
    v = spec.value_cols[0]
    out: list[Case] = [_read_case(spec, "good", "none")]
    gz_name = spec.name + ".gz"
    out.append(Case(spec, "gzip", "none", gz_name, gzip.compress(good.encode(), mtime=0),
                    ("read", count_units(good, spec), _expected_kept(spec), ())))
    full = gzip.compress((good * 40).encode(), mtime=0)
    out.append(Case(spec, "truncated_gzip", "truncated gzip", gz_name, full[: len(full) // 2], ("error", "file")))
    out.append(_read_case(spec, "utf16", "encoding", encoding="utf-16"))
    if True:  # a legacy encoding, with an accented name where the layout has free text
        rows = _with_cell(spec, F, spec.text_col, "Côte d'Ivoire") if spec.text_col else spec.rows
        kept = _expected_kept(spec)
        text = spec.prefix + to_csv(spec.header, rows)
        legacy = "latin-1" if all(ord(ch) < 256 for ch in text) else "gb18030"  # Chinese tables: GB18030
        out.append(_read_case(spec, legacy.replace("-", ""), "encoding", rows, kept=kept, encoding=legacy))
    out.append(_read_case(spec, "bom", "encoding", bom=True))
    rng = random.Random(7)
    junk = bytes(rng.getrandbits(8) for _ in range(3000))
    out.append(Case(spec, "binary_junk", "binary junk", spec.name, junk, ("error", "file")))
    out.append(Case(spec, "empty", "empty file", spec.name, b"", ("error", "file")))
    out.append(_read_case(spec, "header_only", "header-only file", rows=[], kept=[]))
    req = spec.required_col or v
    j = spec.header.index(req)
    out.append(Case(spec, "missing_column", "missing column", spec.name,
                    (spec.prefix + to_csv(spec.header[:j] + spec.header[j + 1:],
                                          [r[:j] + r[j + 1:] for r in spec.rows])).encode(),
                    ("error", "column"), column=req))
    j = spec.header.index(v)
    d = spec.header.index(spec.dup_col or spec.partner_col or spec.header[0])
    out.append(Case(spec, "duplicated_column", "duplicated column", spec.name,
                    (spec.prefix + to_csv(spec.header + [spec.header[d]],
                                          [r + [r[d]] for r in spec.rows])).encode(),
                    ("error", "column"), column=spec.header[d]))
    out.append(_read_case(spec, "extra_column", "extra column", rows=[r + ["remark"] for r in spec.rows],
                          header=spec.header + ["remarks"]))
    ex = out[-1]
    ex.column = "remarks"
    for fault, cls, text, value in [
        ("text_in_number", "text in numbers", "abc", None),
        ("thousands", "thousands separators", "1,234,567", 1234567.0 * spec.factor),
        ("thousands_space", "thousands separators", "1 234 567", 1234567.0 * spec.factor),
        ("decimal_comma", "decimal comma", "12,5", None),
        ("decimal_comma_grouped", "decimal comma", "1.234,56", None),
        ("nan", "NaN/inf", "NaN", None),
        ("inf", "NaN/inf", "inf", None),
        ("minus_inf", "NaN/inf", "-inf", None),
        ("huge", "1e308", "1e308", 1e308 * spec.factor if 1e308 * spec.factor < float("inf") else None),
        ("negative", "negative values", "-15", None),
    ]:
        rows = _with_cell(spec, F, v, text)
        out.append(_read_case(spec, fault, cls, rows, kept=_expected_kept(spec, change={(F, v): value})))
    if spec.period_col:
        rows = _with_cell(spec, F, spec.period_col, spec.bad_period)
        for c in spec.period_cols:
            rows[F][spec.header.index(c)] = spec.bad_period
        out.append(_read_case(spec, "bad_period", "bad periods", rows, kept=_expected_kept(spec, drop={(F, "*")})))
        out[-1].column = spec.period_col
        out[-1].alt_error = "row"  # set aside, or refused naming the row
    if spec.partner_col:
        unknown = spec.unknown_code if isinstance(spec.unknown_code, dict) else {spec.partner_col: spec.unknown_code}
        rows = [list(r) for r in spec.rows]
        for c, t in unknown.items():
            rows[F][spec.header.index(c)] = t
        out.append(_read_case(spec, "unknown_code", "unknown codes", rows, kept=_expected_kept(spec, drop={(F, "*")})))
    if spec.namibia:
        rows = [list(r) for r in spec.rows]
        for c, t in spec.namibia.items():
            rows[F][spec.header.index(c)] = t
        out.append(_read_case(spec, "namibia", "ambiguous codes (NA)", rows,
                              checks=(("partner_of", float(spec.rows[F][j]) * spec.factor, "NAM"),)))
    if spec.hs_col and spec.lost_zero:
        written, restored = spec.lost_zero
        rows = _with_cell(spec, F, spec.hs_col, written)
        out.append(_read_case(spec, "lost_zero", "lost leading zeros", rows,
                              checks=(("hs_of_or_aside", float(spec.rows[F][j]) * spec.factor, restored),)))
    rows = [list(r) for r in spec.rows] + [list(spec.rows[F])]
    out.append(_read_case(spec, "duplicate_row", "duplicate rows", rows, kept=_expected_kept(spec)))
    if spec.parquet:
        out += parquet_cases(spec)
    return [_override(c) for c in out]


def _override(case: Case) -> Case:
    exp = case.spec.overrides.get(case.fault)
    return replace(case, expect=exp) if exp else case


def parquet_cases(spec: Spec) -> list[Case]:
    """Parquet with wrong types: numbers as text (one of them not a number), periods and codes as integers."""
    v, n = spec.value_cols[0], len(spec.rows)
    frame = pd.DataFrame(spec.rows, columns=spec.header)
    buf = io.BytesIO()
    as_text = frame.copy()
    as_text.loc[F, v] = "abc"
    as_text.to_parquet(buf, index=False)
    name = Path(spec.name).with_suffix(".parquet").name
    out = [Case(spec, "parquet_text_values", "Parquet with wrong types", name, buf.getvalue(),
                ("read", n, _expected_kept(spec, change={(F, v): None}), ()))]
    typed = frame.copy()
    typed[v] = typed[v].astype("int64")
    if spec.period_col:
        typed[spec.period_col] = typed[spec.period_col].astype("int64")
    buf = io.BytesIO()
    typed.to_parquet(buf, index=False)
    out.append(Case(spec, "parquet_int_periods", "Parquet with wrong types", name, buf.getvalue(),
                    ("read", n, _expected_kept(spec), ())))
    if spec.hs_col:
        lost = frame.copy()
        lost[spec.hs_col] = lost[spec.hs_col].map(lambda s: int(s) if s.isdigit() else -1)
        lost = lost[lost[spec.hs_col] >= 0]
        buf = io.BytesIO()
        lost.to_parquet(buf, index=False)
        kept_rows = [r for r in spec.rows if r[spec.header.index(spec.hs_col)].isdigit()]
        out.append(Case(spec, "parquet_int_codes", "Parquet with wrong types", name, buf.getvalue(),
                        ("read", len(kept_rows), None, (("hs_restored", spec.hs_col),))))
    return out


def all_cases() -> list[Case]:
    return [c for s in specs() for c in cases_for(s)]


# -- running one case and classifying its outcome -------------------------------------------------------------

def run_case(case: Case, folder: Path) -> tuple[str, str]:
    """``(outcome, detail)``; outcome is ``error``, ``read`` or a failure (``traceback``, ``bad_message``,
    ``silent_loss``, ``wrong_value``, ``unexpected``)."""
    from tradeanomaly.cli import handle_errors
    from tradeanomaly.sources import read_source

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / case.name
    path.write_bytes(case.data)
    options = dict(case.spec.options)
    for name, text in case.spec.aux.items():
        (folder / name).write_text(text, encoding="utf-8")
        options = {k: (str(folder / name) if val == name else val) for k, val in options.items()}
    try:
        res = handle_errors(read_source)(case.spec.source, [path], **options)
    except click.ClickException as exc:
        return _judge_error(case, exc.format_message())
    except Exception as exc:  # noqa: BLE001 - any other exception is a traceback for the user
        return "traceback", f"{type(exc).__name__}: {exc}"
    return _judge_read(case, res)


def _judge_error(case: Case, msg: str) -> tuple[str, str]:
    if case.expect[0] != "error" and not case.alt_error:
        return "unexpected", f"expected a read, got the error: {msg}"
    where = case.expect[1] if case.expect[0] == "error" else case.alt_error
    if "\n" in msg.strip():
        return "bad_message", f"more than one line: {msg!r}"
    if case.name not in msg:
        return "bad_message", f"does not name the file {case.name}: {msg}"
    if where == "column" and case.column and f"`{case.column}`" not in msg and case.column not in msg:
        return "bad_message", f"does not name the column {case.column}: {msg}"
    if where == "row" and not any(w in msg for w in ("row ", "line ", "record ")):
        return "bad_message", f"does not name the row: {msg}"
    if not any(w in msg.lower() for w in FIX_WORDS):
        return "bad_message", f"says no fix: {msg}"
    return "error", msg


def _judge_read(case: Case, res) -> tuple[str, str]:
    led, flows = res.ledger, res.flows
    if case.expect[0] != "read":
        return "unexpected", f"expected an error, the file was read: {dict(led.counts)}"
    _, units, kept, checks = case.expect
    counts = dict(led.counts)
    if led.rows_in != sum(counts.values()) or led.kept != len(flows):
        return "silent_loss", f"unbalanced ledger: rows_in={led.rows_in}, {counts}, {len(flows)} flows"
    if led.rows_in != units:
        return "silent_loss", f"rows_in={led.rows_in} where the file has {units}: {counts}"
    got = sorted(float(x) for x in flows["value_usd"])
    for check in checks:
        if check[0] == "partner_of":
            hit = flows.loc[flows["value_usd"] == check[1], "partner"].tolist()
            if hit != [check[2]]:
                return "wrong_value", f"value {check[1]} has partner(s) {hit}, not {check[2]}: {counts}"
        elif check[0] == "hs_of_or_aside":
            hit = flows.loc[flows["value_usd"] == check[1], "hs"].tolist()
            if hit not in ([], [check[2]]):
                return "wrong_value", f"value {check[1]} read with hs {hit}, not {check[2]}"
            kept = _expected_kept(case.spec, drop=set() if hit else {(F, "*")})
        elif check[0] == "hs_restored":
            if not flows["hs"].str.fullmatch(r"TOTAL|\d{2}|\d{4}|\d{6}|\d{8}|\d{10}").all():
                return "wrong_value", f"codes kept without their zeros: {sorted(set(flows['hs']))}"
            kept = got if len(got) + sum(v for k, v in counts.items() if k != "kept") == units else None
            if kept is None:
                return "silent_loss", f"{counts}"
    if got != kept:
        return "wrong_value", f"kept values {got} where {kept} were written: {counts}"
    return "read", f"{led.rows_in} in, {counts}"


def summary(results) -> str:
    """Cases, classes and outcomes as the README states them."""
    outcomes = Counter(o for _, o, _ in results)
    classes = sorted({c.cls for c, _, _ in results} - {"none"})
    readers = sorted({c.spec.id for c, _, _ in results})
    controls = sum(c.cls == "none" for c, _, _ in results)
    lines = [f"{len(results)} cases over {len(readers)} reader layouts ({', '.join(readers)}): "
             f"{len(results) - controls} in {len(classes)} classes of fault, {controls} good files (plain and gzip)",
             f"outcomes: {outcomes['error']} one-line errors naming the file, {outcomes['read']} balanced reads; "
             f"{outcomes['traceback']} tracebacks, {outcomes['silent_loss']} silent losses, "
             f"{outcomes['wrong_value']} wrong values, {outcomes['bad_message']} unclear messages, "
             f"{outcomes['unexpected']} unexpected outcomes"]
    for case, outcome, detail in results:
        if outcome not in ("error", "read"):
            lines.append(f"  FAIL {case.spec.id}/{case.fault}: {outcome}: {detail}")
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover - the summary the README quotes
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        res = []
        for k, case in enumerate(all_cases()):
            outcome, detail = run_case(case, Path(tmp) / f"c{k}")
            res.append((case, outcome, detail))
    print(summary(res))
