"""UN Comtrade: Comtrade Plus API records and bulk files, and the legacy website export.

Layouts read:

* **Comtrade Plus** records as the API returns them (a JSON document whose ``data`` list holds the records, saved
  as ``.json``; or the API's CSV) and as the bulk files deliver them (tab- or comma-separated, optionally
  ``.gz``). Field names: ``period`` or ``refYear``/``refMonth`` (52 = annual), ``freqCode``, ``reporterCode``/
  ``reporterISO``, ``partnerCode``/``partnerISO``, ``partner2Code``, ``flowCode``, ``classificationCode``,
  ``cmdCode``, ``customsCode``, ``motCode``, ``primaryValue``, ``cifvalue``, ``fobvalue``, ``qty``,
  ``qtyUnitAbbr``, ``netWgt`` ...
* **Legacy website export** (the classic 35-column "Classification, Year, Period, ..., Trade Value (US$), Flag"
  CSV), including extracts that dropped its empty columns.

What is analysed, what is set aside (ledger stage ``read:comtrade``, one count per input record):

* Only the figure for all transport modes (``motCode`` 0), all customs procedures (``customsCode`` C00) and no
  second partner (``partner2Code`` 0) is analysed; the breakdowns are counted as ``mode_breakdown``,
  ``procedure_breakdown`` and ``second_partner_breakdown``. An empty code (legacy files) means "not broken down".
* Flows X, M, RX and RM are read; other Comtrade Plus flows (DX, FM, MIP, XIP, MOP, XOP, ...) are ``other_flow``.
* The flows contract's ``hs`` is an HS code. Records of another classification are ``non_hs_classification``;
  with ``allow_sitc=True`` SITC records (``S1``..``S4``, ``SS``) are kept with the SITC code in ``hs`` (only
  2-, 4- and 6-digit SITC codes fit the contract; others are ``bad_product_code``). Do not mix SITC and HS rows
  of one reporter in one analysis: the codes mean different products.
* A numeric ``cmdCode`` that lost its leading zero (``10121`` in an HS classification) is restored with
  :func:`tradeanomaly.codes.hs.normalise_hs`; the number restored is written in the ledger notes.
* Partner World (code 0) is kept as ``WLD``, "Areas, nes" as ``NES``; other groupings (EU, ASEAN, ...) are
  ``aggregate_area``; a reporter that is not a country is ``aggregate_reporter``.

Values are US dollars (units). Valuation: imports (M, RM) use ``cifvalue`` when given (CIF), else ``fobvalue``
when given (the reporter values imports FOB, valuation FOB), else ``primaryValue`` (CIF); exports (X, RX) use
``fobvalue`` when given, else ``primaryValue`` (FOB). Quantity: ``netWgt`` (kg) when positive, else ``qty`` with
``qtyUnitAbbr``. Comtrade flags estimates per quantity field (``isQtyEstimated``, ``isNetWgtEstimated``; the
legacy ``Flag`` 2/4/6) while the trade value itself is as reported, so ``estimated`` is False for every row.

Streaming: :func:`iter_chunks` reads one file ``chunk_rows`` records at a time (CSV and tab-separated bulk files,
``.gz`` or not, and legacy exports, with the same pandas parser options as the whole read), so
``tradeanomaly ingest --partitioned --source comtrade`` holds one chunk in memory. Every row is decided as in
:func:`read_one`: a country code met again in a later chunk resolves as it did the first time, and the notes
about the whole file (restored leading zeros, SITC records) are written once, in the ledger of the last chunk.
Duplicates are set aside within a chunk; the ingest sets aside those across chunks. A JSON API response cannot
be parsed in pieces; it is loaded at once (the API returns at most a few hundred thousand records) and cut into
chunks.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Iterator

import numpy as np
import pandas as pd

from ..errors import ConfigError, SourceFormatError
from ..periods import normalise_periods
from ..schema import HS_RE, Ledger
from .base import (EMPTY_FILE, gzip_guarded, NA_VALUES, ReadResult, detect_encoding, finish_flows, parse_numbers, read_text_table,
                   text_csv_options)

SOURCE = "comtrade"

#: legacy website export column -> Comtrade Plus field
LEGACY_COLUMNS = {
    "Classification": "classificationCode",
    "Year": "refYear",
    "Period": "period",
    "Aggregate Level": "aggrLevel",
    "Trade Flow Code": "legacyFlowCode",
    "Trade Flow": "flowDesc",
    "Reporter Code": "reporterCode",
    "Reporter ISO": "reporterISO",
    "Partner Code": "partnerCode",
    "Partner ISO": "partnerISO",
    "2nd Partner Code": "partner2Code",
    "Customs Proc. Code": "customsCode",
    "Mode of Transport Code": "motCode",
    "Commodity Code": "cmdCode",
    "Qty Unit": "qtyUnitAbbr",
    "Qty": "qty",
    "Netweight (kg)": "netWgt",
    "Trade Value (US$)": "primaryValue",
    "CIF Trade Value (US$)": "cifvalue",
    "FOB Trade Value (US$)": "fobvalue",
    "Flag": "legacyEstimationFlag",
}

#: fields the reader uses (others are ignored)
USED = ("period", "refYear", "refMonth", "freqCode", "reporterCode", "reporterISO", "partnerCode", "partnerISO",
        "partner2Code", "flowCode", "legacyFlowCode", "flowDesc", "classificationCode", "cmdCode", "customsCode",
        "motCode", "primaryValue", "cifvalue", "fobvalue", "qty", "qtyUnitAbbr", "netWgt")

LEGACY_FLOW_CODES = {"1": "M", "2": "X", "3": "RX", "4": "RM"}
FLOW_NAMES = {"import": "M", "export": "X", "re-export": "RX", "re-import": "RM", "reexport": "RX",
              "reimport": "RM", "re-exports": "RX", "re-imports": "RM", "imports": "M", "exports": "X"}
KEPT_FLOWS = ("X", "M", "RX", "RM")
SITC_CLASSIFICATIONS = ("S1", "S2", "S3", "S4", "SS")

FIX_COLUMNS = ("Save the records with their Comtrade Plus field names (reporterCode, partnerCode, flowCode, "
               "cmdCode, primaryValue, ...) or as the legacy website export (Reporter Code, Partner Code, "
               "Trade Flow, Commodity Code, Trade Value (US$), ...); other layouts: --source table --map MAP.yaml")


# ------------------------------------------------------------------------------------------------------------
# Loading one file as text
# ------------------------------------------------------------------------------------------------------------

def _open_text(path: Path):
    return gzip.open(path, "rt", encoding="utf-8-sig") if path.suffix == ".gz" else open(path, encoding="utf-8-sig")


def _is_json(path: Path) -> bool:
    name = path.name.lower()
    if name.endswith((".json", ".json.gz")):
        return True
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as fh:
        head = fh.read(64).lstrip(b"\xef\xbb\xbf \t\r\n")
    return head[:1] in (b"{", b"[")


def _json_records(path: Path) -> pd.DataFrame:
    try:
        with _open_text(path) as fh:
            doc = json.load(fh)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SourceFormatError(f"not valid JSON ({exc}); save the API response as it came (UTF-8)",
                                path=path) from exc
    if isinstance(doc, dict):
        if doc.get("error") and not doc.get("data"):
            raise SourceFormatError(f"the saved API response is an error: {doc['error']}; download it again",
                                    path=path)
        if "data" not in doc:
            raise SourceFormatError("a Comtrade API JSON document holds its records in `data`; this one has "
                                    f"keys {', '.join(map(str, list(doc)[:10]))}", path=path)
        doc = doc["data"]
    if not isinstance(doc, list) or any(not isinstance(r, dict) for r in doc[:1000]):
        raise SourceFormatError("expected a list of records (objects) in `data`", path=path)
    df = pd.DataFrame.from_records(doc)
    # every field as text, as if read from a CSV, so codes keep their form and missing stays missing
    out = pd.DataFrame(index=df.index)
    for c in df.columns:
        col = df[c]
        text = col.map(_json_text, na_action="ignore")
        out[str(c)] = text.astype("str").where(col.notna())
    return out


def _json_text(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e15:
        return str(int(v))
    return str(v)


def _first_line(path: Path) -> tuple[str, list[str]]:
    """The separator (tab or comma, whichever the header line has more of) and the header's field names."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as fh:
            first = fh.readline()
    except OSError as exc:
        raise SourceFormatError(f"cannot read the file ({exc})", path=path) from exc
    sep = "\t" if first.count(b"\t") > first.count(b",") else ","
    return sep, [h.strip().strip('"') for h in first.decode("utf-8-sig", errors="replace").strip().split(sep)]


def _named(df: pd.DataFrame) -> pd.DataFrame:
    """Field names stripped; a legacy website export's columns renamed to the Plus fields."""
    df.columns = [str(c).strip() for c in df.columns]
    if any(c in df.columns for c in ("Trade Value (US$)", "Commodity Code", "Reporter Code")):
        df = df.rename(columns=LEGACY_COLUMNS)
    return df


def _csv_records(path: Path) -> pd.DataFrame:
    sep, header = _first_line(path)
    wanted = set(USED) | set(LEGACY_COLUMNS)
    # bulk files carry ~50 fields; reading only the used ones keeps memory down
    df = read_text_table(path, sep=sep, usecols=lambda c: str(c).strip() in wanted)
    df.attrs["header"] = header
    return df


def load_records(path: Path) -> pd.DataFrame:
    """One Comtrade file as a frame of text columns named as Comtrade Plus fields."""
    if not path.exists():
        raise SourceFormatError("file not found", path=path)
    if path.stat().st_size == 0:
        raise SourceFormatError(EMPTY_FILE, path=path)
    return _named(_json_records(path) if _is_json(path) else _csv_records(path))


# ------------------------------------------------------------------------------------------------------------
# Field interpretation (vectorised)
# ------------------------------------------------------------------------------------------------------------

def _text(df: pd.DataFrame, col: str) -> pd.Series:
    if col not in df.columns:
        return pd.Series("", index=df.index, dtype="str")
    return df[col].astype("str").fillna("").str.strip()


def _code_is_zero(s: pd.Series) -> pd.Series:
    """Empty, 0 or 0.0 mean "no breakdown"."""
    plain = (s == "") | (s == "0")  # nearly every record: only the other spellings are parsed
    other = ~plain
    if not other.any():
        return plain
    num = pd.to_numeric(s[other], errors="coerce")
    return plain | (num == 0).reindex(s.index, fill_value=False)


def _periods(df: pd.DataFrame, path: Path) -> pd.Series:
    period = _text(df, "period")
    out = normalise_periods(period)
    year = _text(df, "refYear")
    month = _text(df, "refMonth")
    freq = _text(df, "freqCode").str.upper()
    if "refYear" in df.columns:
        m = pd.to_numeric(month.where(month != ""), errors="coerce")
        annual = (freq == "A") | (m == 52) | m.isna()
        from_parts = np.where(annual, year, year + "-" + m.fillna(0).astype(int).astype(str).str.zfill(2))
        from_parts = normalise_periods(pd.Series(from_parts, index=df.index))
        out = out.where(out != "", from_parts)
    elif "period" not in df.columns:
        raise SourceFormatError("no period: expected `period` or `refYear`/`refMonth`", path=path, column="period")
    # an annual record whose period was written as YYYYMM-like annual code stays annual
    return out.where(~((freq == "A") & (out.str.len() == 7)), out.str.slice(0, 4))


def _flows(df: pd.DataFrame) -> pd.Series:
    flow = _text(df, "flowCode").str.upper()
    if "legacyFlowCode" in df.columns:
        legacy = _text(df, "legacyFlowCode").map(LEGACY_FLOW_CODES).fillna("")
        flow = flow.where(flow != "", legacy)
    if "flowDesc" in df.columns:
        desc = _text(df, "flowDesc").str.lower().map(FLOW_NAMES).fillna("")
        flow = flow.where(flow != "", desc)
    return flow


def _resolve(codes: pd.Series, isos: pd.Series, cache: dict | None = None) -> pd.DataFrame:
    """ISO3 and kind for Comtrade numeric codes, falling back to the ISO column where the code is unknown.

    A code resolves once, with the ISO of its first row; ``cache`` (key -> (iso3, kind)) carries that across
    the chunks of one file, so a chunked read resolves every row as the whole read does.
    """
    from ..codes.countries import resolve_countries

    cache = {} if cache is None else cache
    key = codes.where(codes != "", "iso:" + isos)
    uniq = pd.DataFrame({"code": codes, "iso": isos, "key": key}).drop_duplicates("key")
    uniq = uniq.loc[~uniq["key"].isin(list(cache))].reset_index(drop=True)
    if len(uniq):
        res = pd.DataFrame({"iso3": "", "kind": "unknown"}, index=uniq.index)
        has_code = uniq["code"] != ""
        if has_code.any():
            r = resolve_countries(uniq.loc[has_code, "code"].reset_index(drop=True), system="comtrade")
            res.loc[has_code, ["iso3", "kind"]] = r[["iso3", "kind"]].to_numpy()
        retry = (res["kind"] == "unknown") & (uniq["iso"] != "")
        if retry.any():
            r = resolve_countries(uniq.loc[retry, "iso"].reset_index(drop=True), system="auto")
            res.loc[retry, ["iso3", "kind"]] = r[["iso3", "kind"]].to_numpy()
        cache.update(zip(uniq["key"], zip(res["iso3"], res["kind"])))
    needed = pd.unique(key)
    res = pd.DataFrame([cache[k] for k in needed], columns=["iso3", "kind"], index=needed)
    out = res.reindex(key.to_numpy())
    out.index = codes.index
    return out.astype("str")


def _product_codes(df: pd.DataFrame, cls: pd.Series, is_hs: pd.Series, state: "_FileState") -> pd.Series:
    cmd = _text(df, "cmdCode")
    cmd = cmd.where(cmd.str.upper() != "TOTAL", "TOTAL")
    # a trailing ".0" comes from a spreadsheet that stored the code as a number
    cmd = cmd.str.replace(r"^(\d+)\.0$", r"\1", regex=True)
    lost = is_hs & cmd.str.fullmatch(r"\d+") & (cmd.str.len() % 2 == 1)
    if lost.any():
        from ..codes.hs import normalise_hs

        restored = normalise_hs(cmd[lost]).astype("str")
        cmd = cmd.copy()
        cmd.loc[lost] = restored.to_numpy()
        if state.lost == 0:
            state.lost_example = f"{df.loc[lost, 'cmdCode'].iloc[0]} -> {cmd[lost].iloc[0]}"
        state.lost += int(lost.sum())
    return cmd


def _choose_value(df: pd.DataFrame, flow: pd.Series) -> tuple[pd.Series, pd.Series]:
    primary, cif, fob = _text(df, "primaryValue"), _text(df, "cifvalue"), _text(df, "fobvalue")
    imports = flow.isin(["M", "RM"])
    has_cif, has_fob = cif != "", fob != ""
    value = primary.copy()
    valuation = pd.Series(np.where(imports, "CIF", "FOB"), index=df.index, dtype="str")
    use_cif = imports & has_cif
    use_fob_imp = imports & ~has_cif & has_fob
    use_fob_exp = ~imports & has_fob
    value = value.where(~use_cif, cif).where(~use_fob_imp, fob).where(~use_fob_exp, fob)
    valuation = valuation.where(~use_fob_imp, "FOB")
    return value, valuation


def _choose_quantity(df: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    net, _, _ = parse_numbers(_text(df, "netWgt"))
    qty, _, _ = parse_numbers(_text(df, "qty"))
    unit = _text(df, "qtyUnitAbbr")
    unit = unit.where(~unit.str.upper().isin([u.upper() for u in NA_VALUES] + ["N/A", "-1"]), "")
    use_net = net > 0
    use_qty = ~use_net & (qty > 0) & (unit != "")
    quantity = pd.Series(np.where(use_net, net, np.where(use_qty, qty, np.nan)), index=df.index)
    qunit = pd.Series(np.where(use_net, "kg", np.where(use_qty, unit, "")), index=df.index, dtype="str")
    return quantity, qunit


# ------------------------------------------------------------------------------------------------------------
# Reading
# ------------------------------------------------------------------------------------------------------------

class _FileState:
    """What the chunks of one file share: the resolved country codes and the facts behind the file's notes."""

    def __init__(self, allow_sitc: bool):
        self.allow_sitc = allow_sitc
        self.reporters: dict = {}
        self.partners: dict = {}
        self.any_dropped_cls = False   # a record of a classification not analysed
        self.any_sitc = False          # a SITC record (after the flow filter)
        self.sitc_kept = 0
        self.no_cls_field = False
        self.lost = 0                  # cmdCode values whose leading zero was restored
        self.lost_example = ""

    def notes(self) -> list[str]:
        """The file's notes, in the order the whole read writes them."""
        notes = []
        if self.any_dropped_cls and self.any_sitc and not self.allow_sitc:
            notes.append("SITC records are set aside as non_hs_classification; pass allow_sitc=True "
                         "(--option allow_sitc=true) to analyse them with the SITC code in `hs`")
        if self.allow_sitc and self.sitc_kept:
            notes.append(f"{self.sitc_kept} SITC record(s) kept with the SITC code in `hs` "
                         "(allow_sitc=True); they are not HS codes")
        if self.no_cls_field:
            notes.append("no classificationCode field: product codes were taken to be HS")
        if self.lost:
            notes.append(f"{self.lost} cmdCode value(s) had lost their leading zero (read as numbers) and were "
                         f"restored, e.g. {self.lost_example}")
        return notes


def _check_fields(columns, path: Path, header: list[str] | None) -> None:
    cols = set(columns)
    has_period = "period" in cols or "refYear" in cols
    missing = [c for c, ok in (("reporterCode/reporterISO", "reporterCode" in cols or "reporterISO" in cols),
                               ("partnerCode/partnerISO", "partnerCode" in cols or "partnerISO" in cols),
                               ("flowCode", any(c in cols for c in ("flowCode", "legacyFlowCode", "flowDesc"))),
                               ("cmdCode", "cmdCode" in cols),
                               ("primaryValue", any(c in cols for c in ("primaryValue", "cifvalue", "fobvalue"))),
                               ("period/refYear", has_period)) if not ok]
    if missing:
        have = ", ".join(header or list(columns))[:400]
        raise SourceFormatError(f"missing Comtrade field(s) {', '.join(missing)}; the file has: {have}. "
                                + FIX_COLUMNS, path=path)


def _empty(ledger: Ledger) -> ReadResult:
    ledger.check()
    return finish_flows(pd.DataFrame(columns=["period", "reporter", "partner", "flow", "hs", "value_usd"]),
                        ledger, SOURCE)


def _reduce(df: pd.DataFrame, path: Path, ledger: Ledger, state: _FileState) -> ReadResult:
    """Records (text columns named as Comtrade Plus fields) -> flows; set-asides go to ``ledger``, notes to
    ``state``. Each row is decided on its own (or through ``state``), so chunks give the rows of the whole."""
    allow_sitc = state.allow_sitc
    second = ~_code_is_zero(_text(df, "partner2Code"))
    df = ledger.set_aside(df, second.to_numpy(), "second_partner_breakdown")
    mode = ~_code_is_zero(_text(df, "motCode"))
    df = ledger.set_aside(df, mode.to_numpy(), "mode_breakdown")
    customs = _text(df, "customsCode").str.upper()
    df = ledger.set_aside(df, ~customs.isin(["", "C00"]).to_numpy(), "procedure_breakdown")

    flow = _flows(df)
    df = ledger.set_aside(df, ~flow.isin(KEPT_FLOWS).to_numpy(), "other_flow")
    flow = flow.loc[df.index]

    cls = _text(df, "classificationCode").str.upper()
    is_hs = (cls == "") | cls.str.startswith("H")
    is_sitc = cls.isin(SITC_CLASSIFICATIONS)
    keep_cls = is_hs | (is_sitc if allow_sitc else False)
    state.any_dropped_cls |= bool((~keep_cls).any())
    state.any_sitc |= bool(is_sitc.any())
    df = ledger.set_aside(df, (~keep_cls).to_numpy(), "non_hs_classification")
    flow, cls, is_hs = flow.loc[df.index], cls.loc[df.index], is_hs.loc[df.index]
    if allow_sitc:
        state.sitc_kept += int((~is_hs).sum())
    if "classificationCode" not in df.columns:
        state.no_cls_field = True

    hs = _product_codes(df, cls, is_hs, state)
    bad_hs = ~hs.str.match(HS_RE)
    df = ledger.set_aside(df, bad_hs.to_numpy(), "bad_product_code")
    flow, hs = flow.loc[df.index], hs.loc[df.index]

    rep = _resolve(_text(df, "reporterCode"), _text(df, "reporterISO").str.upper(), state.reporters)
    par = _resolve(_text(df, "partnerCode"), _text(df, "partnerISO").str.upper(), state.partners)
    bad_reporter = rep["kind"].isin(["world", "nes", "aggregate"])
    df = ledger.set_aside(df, bad_reporter.to_numpy(), "aggregate_reporter")
    keep = df.index
    par = par.loc[keep]
    aggregate = par["kind"] == "aggregate"
    df = ledger.set_aside(df, aggregate.to_numpy(), "aggregate_area")
    keep = df.index

    value, valuation = _choose_value(df, flow.loc[keep])
    quantity, qunit = _choose_quantity(df)
    out = pd.DataFrame({
        "period": _periods(df, path),
        "reporter": rep.loc[keep, "iso3"].where(rep.loc[keep, "kind"] == "country", ""),
        "region": "",
        "partner": par.loc[keep, "iso3"],
        "flow": flow.loc[keep],
        "hs": hs.loc[keep],
        "value_usd": value,
        "valuation": valuation,
        "quantity": quantity,
        "quantity_unit": qunit,
        "estimated": False,
        "source": SOURCE,
    }, index=keep)
    return finish_flows(out, ledger, SOURCE, where=f"{path.name}: comtrade reader output")


def read_one(path: Path, *, allow_sitc: bool = False) -> ReadResult:
    """Read one Comtrade file; see the module docstring."""
    path = Path(path)
    df = load_records(path)
    ledger = Ledger(stage=f"read:{SOURCE}", rows_in=len(df), inputs=[path.name])
    _check_fields(df.columns, path, df.attrs.get("header"))
    if len(df) == 0:
        return _empty(ledger)
    state = _FileState(allow_sitc)
    res = _reduce(df, path, ledger, state)
    ledger.notes += state.notes()
    return res


# ------------------------------------------------------------------------------------------------------------
# Streaming
# ------------------------------------------------------------------------------------------------------------

DEFAULT_CHUNK_ROWS = 500_000


def _record_chunks(path: Path, chunk_rows: int) -> tuple[list[str], list[str] | None, Iterator[pd.DataFrame]]:
    """``(columns, header, chunks)`` of one file: the field names (as :func:`load_records` names them), the file's
    own header line, and the records ``chunk_rows`` at a time (text columns, as :func:`load_records` reads them)."""
    if not path.exists():
        raise SourceFormatError("file not found", path=path)
    if path.stat().st_size == 0:
        raise SourceFormatError(EMPTY_FILE, path=path)

    if _is_json(path):
        whole = load_records(path)

        def slices() -> Iterator[pd.DataFrame]:
            for start in range(0, len(whole), chunk_rows):
                yield whole.iloc[start:start + chunk_rows]
        return list(whole.columns), None, slices()

    sep, header = _first_line(path)
    wanted = set(USED) | set(LEGACY_COLUMNS)
    usecols = lambda c: str(c).strip() in wanted  # noqa: E731
    columns = list(_named(read_text_table(path, sep=sep, usecols=usecols, nrows=0)).columns)
    # read as base.read_text_table reads (every field as text, the same missing-value spellings), in chunks
    enc = detect_encoding(path)
    opts = text_csv_options(sep, enc, usecols)

    def chunks() -> Iterator[pd.DataFrame]:
        start = 0
        try:
            with pd.read_csv(path, chunksize=chunk_rows, **opts) as reader:
                for chunk in reader:
                    start += len(chunk)
                    yield _named(chunk)
        except UnicodeDecodeError as exc:
            raise SourceFormatError(f"cannot decode the bytes as {enc} after data row {start} ({exc.reason}): "
                                    "save the file as UTF-8", path=path, row=start + 2) from exc
        except pd.errors.ParserError as exc:
            raise SourceFormatError(f"not a well-formed CSV after data row {start} ({exc}); check the separator "
                                    "and quoting", path=path, row=start + 2) from exc
    return columns, header, chunks()


@gzip_guarded
def iter_chunks(path, chunk_rows: int = DEFAULT_CHUNK_ROWS, *, allow_sitc: bool = False,
                **options) -> Iterator[ReadResult]:
    """Read one Comtrade file chunk by chunk: each chunk is a finished :class:`ReadResult` with its own balanced
    ledger (see the module docstring). Merged, the ledgers and rows equal :func:`read_one`'s once duplicates
    across chunks are set aside (as ``tradeanomaly ingest --partitioned`` does); the file's notes are in the
    last chunk's ledger. A file with a header and no records gives one empty chunk.
    """
    if options:
        raise ConfigError(f"unknown option(s) for comtrade: {', '.join(sorted(options))} (known: allow_sitc)")
    chunk_rows = int(chunk_rows)
    if chunk_rows < 1:
        raise ConfigError(f"chunk_rows must be a positive number of rows, got {chunk_rows}")
    path = Path(path)
    columns, header, chunks = _record_chunks(path, chunk_rows)
    _check_fields(columns, path, header)
    state = _FileState(_as_bool(allow_sitc))
    held: ReadResult | None = None  # one chunk is held back, so the notes can go to the last one
    for df in chunks:
        if not len(df):
            continue
        ledger = Ledger(stage=f"read:{SOURCE}", rows_in=len(df), inputs=[path.name])
        res = _reduce(df, path, ledger, state)
        del df
        if held is not None:
            yield held
        held = res
    if held is None:
        yield _empty(Ledger(stage=f"read:{SOURCE}", rows_in=0, inputs=[path.name]))
        return
    held.ledger.notes += state.notes()
    yield held


def read(paths: list[Path], *, column_map=None, allow_sitc: bool = False, **options) -> ReadResult:
    """Read Comtrade files (see the module docstring) into one flows table and one ledger."""
    if column_map is not None:
        raise ConfigError("the comtrade source reads Comtrade's own field names and takes no column map; use "
                          "--source table --map MAP.yaml for other layouts")
    if options:
        raise ConfigError(f"unknown option(s) for comtrade: {', '.join(sorted(options))} (known: allow_sitc)")
    allow_sitc = _as_bool(allow_sitc)
    results = [read_one(Path(p), allow_sitc=allow_sitc) for p in paths]
    return combine(results, SOURCE)


def _as_bool(v) -> bool:
    if isinstance(v, str):
        return v.strip().lower() in ("1", "true", "yes", "y", "on")
    return bool(v)


def combine(results: list[ReadResult], source: str) -> ReadResult:
    """One table and one ledger for several files; a figure present in two files is a duplicate."""
    if len(results) == 1:
        return results[0]
    ledger = Ledger(stage=f"read:{source}")
    for r in results:
        ledger.merge(r.ledger)
    kept = ledger.counts.pop("kept", 0)
    flows = pd.concat([r.flows for r in results], ignore_index=True)
    from .base import FLOW_KEY

    dup = flows.duplicated(FLOW_KEY + ["valuation"], keep="first").to_numpy()
    if dup.any():
        ledger.add("duplicate", int(dup.sum()), flows.loc[dup].head(3))
        flows = flows.loc[~dup].reset_index(drop=True)
    ledger.counts["kept"] = kept - int(dup.sum())
    ledger.check()
    return ReadResult(flows, ledger)
