"""China Customs (GACC) monthly tables by province and by country/region, in Chinese or English.

Shapes read (CSV in UTF-8 or GB18030, or Excel ``.xlsx`` with the optional extra ``excel``):

* **Wide monthly table** as GACC publishes it: title lines ("(8)2024年3月进出口商品收发货人所在地总值表(美元值)",
  "China's Total Value of Imports and Exports by Location of Importers/Exporters, March 2024"), a unit line
  ("单位：千美元", "Unit: USD 1,000", "单位：万元"), one or two header rows (进出口 / 出口 / 进口, or Total / Exports /
  Imports, each with the month "3月" / "Mar." and the year to date "1至3月" / "Jan.-Mar."), one row per province or
  country, and footnotes ("注：..."). Percent-change columns are ignored (they are not figures).
* **Long form**: one row per period (``YYYY-MM``), location and flow, with a month value and/or a year-to-date
  cumulative value (columns such as 时间/period, 地区/location, 贸易方向/flow, 当月/month, 累计/cumulative).

Rows: a province (resolved with :func:`tradeanomaly.codes.provinces.resolve_provinces`) gives reporter ``CHN``,
region ``CN-xx``, partner ``WLD``; a country (Chinese or English name, shipped crosswalk) gives reporter ``CHN``,
region ``""``, partner its ISO3; 总值 / Total gives the national total (``CHN``, ``""``, ``WLD``). Groupings
(亚洲, 欧盟, 东盟, 合计 ...) are ``aggregate_area``; names that are not provinces in a province table are
``unknown_region``. Exports are ``X`` (FOB) and imports ``M`` (CIF); 进出口 (total trade) is not a flow and its cells
are ``not_a_flow``. ``hs`` is ``TOTAL``.

The ledger counts **cells** (one per location and value column: month or year-to-date, per flow).

**Year-to-date figures become monthly ones**: the figure for month m is cum(m) − cum(m−1) of the same year,
location and flow (January: cum(1)); the published month column is then redundant and set aside as
``month_column_superseded`` (with ``monthly_from="month"`` the month column wins and the year-to-date cell is
``cumulative_superseded``). Where the previous month's year-to-date figure is not among the inputs, the month
column is used and the year-to-date cell is ``cumulative_without_previous_month``. **January–February**: GACC
publishes January and February together. When a separate January figure is among the inputs, February is
cum(2) − cum(1). Otherwise, if the table also has a February month column, January is cum(2) − Feb. Otherwise the
combined value is split evenly into a January and a February row, both ``estimated=True`` (they are not reported
figures); such a cell counts as two cells in the ledger (``rows_in`` grows by one per split), and the ledger notes
say how many were split.

Units: 千美元 / USD thousand (x 1000), 万美元, 亿美元, 美元; 万元 / 亿元 / 元 (CNY) need an exchange rate: option
``cny_per_usd`` as a number, or the path of a CSV ``period,cny_per_usd`` of monthly rates (a month's figure is
converted at its own month's rate, after differencing in yuan). ``unit=`` overrides the unit found in the file.
Other options: ``period="2024-03"`` when the title does not say the month, ``table="province"|"country"|"auto"``.

The reading of a file into cells (grid, labels, units, wide and long tables) is in
:mod:`tradeanomaly.sources.china_customs_cells`; its public names are importable from here.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import ConfigError, SourceFormatError
from ..periods import normalise_period
from ..schema import Ledger
from .base import NA_VALUES, ReadResult, finish_flows, parse_numbers
from .china_customs_cells import (
    FileCells,
    HEADER_SCAN_ROWS,
    SOURCE,
    STAGE,
    parse_unit,
    read_cells,
    _NATIONAL,
)


# ------------------------------------------------------------------------------------------------------------
# From cells to flows
# ------------------------------------------------------------------------------------------------------------

def _locate(fc: FileCells) -> pd.DataFrame:
    """reporter, region, partner and a set-aside reason ("" when usable) for each cell's location."""
    from ..codes.countries import resolve_countries
    from ..codes.provinces import resolve_provinces

    loc = fc.cells["location"].astype("str").str.strip().str.rstrip("*＊").str.strip()
    # "国别(地区)不详" and "国别不详" are the same line of the country table
    loc = loc.str.replace(r"[(（]地区[)）]", "", regex=True)
    uniq = pd.Series(pd.unique(loc), dtype="str")
    national = uniq.str.lower().isin(_NATIONAL).to_numpy()
    out = pd.DataFrame({"reporter": "CHN", "region": "", "partner": "WLD", "reason": ""}, index=uniq.index)
    if fc.table == "province":
        prov = resolve_provinces(uniq).astype("str").to_numpy()
        out["region"] = np.where(national, "", prov)
        countries = resolve_countries(uniq, system="name")
        agg = countries["kind"].isin(["aggregate", "world"]).to_numpy() & (prov == "") & ~national
        out["reason"] = np.where(national | (prov != ""), "", np.where(agg, "aggregate_area", "unknown_region"))
    else:
        res = resolve_countries(uniq, system="name")
        kind = res["kind"].to_numpy()
        out["partner"] = np.where(national, "WLD", res["iso3"].to_numpy())
        out["reason"] = np.where(national, "", np.where(kind == "aggregate", "aggregate_area", ""))
    out.loc[uniq == "", "reason"] = "no_location"
    out.index = uniq.to_numpy()
    located = out.reindex(loc.to_numpy())
    located.index = fc.cells.index
    return located


def _rates(option, path_hint: Path):
    """Function period -> CNY per USD; raises naming the period when a rate is missing."""
    if option is None:
        return None
    if isinstance(option, (int, float)) or (isinstance(option, str) and re.fullmatch(r"\s*\d+(?:\.\d+)?\s*",
                                                                                    option)):
        rate = float(option)
        if not rate > 0:
            raise SourceFormatError(f"cny_per_usd={option!r} must be a positive number", path=path_hint)
        return lambda periods: pd.Series(rate, index=periods.index)
    rates_path = Path(option)
    from .base import read_text_table

    df = read_text_table(rates_path)
    df.columns = [str(c).strip().lower() for c in df.columns]
    if not {"period", "cny_per_usd"} <= set(df.columns):
        raise SourceFormatError("an exchange-rate file needs the columns period,cny_per_usd (monthly, e.g. "
                                "2024-03,7.1)", path=rates_path)
    per = df["period"].map(normalise_period)
    val, _, bad = parse_numbers(df["cny_per_usd"])
    if bad.any() or per.isna().any() or (val <= 0).any():
        row = int(np.flatnonzero((bad | per.isna() | (val <= 0)).to_numpy())[0]) + 2
        raise SourceFormatError("every row needs a month YYYY-MM and a positive rate", path=rates_path, row=row)
    table = dict(zip(per, val))

    def lookup(periods: pd.Series) -> pd.Series:
        out = periods.map(table)
        if out.isna().any():
            missing = sorted(set(periods[out.isna()]))
            raise SourceFormatError(f"no CNY-per-USD rate for {', '.join(missing[:6])}; add the month(s) to the "
                                    "rate file", path=rates_path)
        return out.astype("float64")

    return lookup


def _derive(cells: pd.DataFrame, ledger: Ledger, monthly_from: str) -> pd.DataFrame:
    """Monthly figures from month and year-to-date cells; returns one row per emitted figure.

    Input cells carry the key columns, ``kind``, ``year``, ``month``, ``num`` (value in the file's currency unit,
    NaN when not a number) and ``raw``. Output rows have ``period``, ``amount`` (NaN for an unusable cell, whose
    ``raw`` text :func:`finish_flows` then sets aside), ``numeric`` and ``estimated``.
    """
    key = ["reporter", "region", "partner", "flow", "currency", "year"]
    c = cells.reset_index(drop=True).copy()
    c["valid"] = c["num"].notna()
    invalid = c.loc[~c["valid"]]
    c = c.loc[c["valid"]]
    cum = c.loc[c["kind"] == "cum"]
    mon = c.loc[c["kind"] == "month"]
    # several cells for the same figure (two files of the same month): the first is used, the others are
    # duplicates of it
    dup_cum = cum.duplicated(key + ["month"], keep="first")
    dup_mon = mon.duplicated(key + ["month"], keep="first")
    dups = pd.concat([cum.loc[dup_cum], mon.loc[dup_mon]])
    cum, mon = cum.loc[~dup_cum], mon.loc[~dup_mon]
    ledger.add("duplicate", len(dups), _examples(dups))

    # January's month figure is also its year to date
    ytd = pd.concat([cum[key + ["month", "num"]], mon.loc[mon["month"] == 1, key + ["month", "num"]]])
    ytd = ytd.drop_duplicates(key + ["month"], keep="first")
    prev = ytd.assign(month=ytd["month"] + 1).rename(columns={"num": "prev"})
    cum = cum.merge(prev, on=key + ["month"], how="left")
    have_mon = mon[key + ["month", "num"]].rename(columns={"num": "mon_num"})
    cum = cum.merge(have_mon, on=key + ["month"], how="left")
    any_jan = pd.concat([cells.loc[cells["month"] == 1, key]]).drop_duplicates().assign(jan=True)
    cum = cum.merge(any_jan, on=key, how="left")
    cum["jan"] = cum["jan"].fillna(False).astype(bool)

    derivable = (cum["month"] == 1) | cum["prev"].notna()
    derived = np.where(cum["month"] == 1, cum["num"], cum["num"] - cum["prev"])
    has_mon = cum["mon_num"].notna()
    jan_feb = (cum["month"] == 2) & ~cum["jan"] & ~derivable
    if monthly_from == "month":
        use_cum = derivable & ~has_mon
    else:
        use_cum = derivable
    jan_from_cum = jan_feb & has_mon                   # January = cum(2) - Feb month column
    split = jan_feb & ~has_mon                         # January and February halves, estimated

    rows = []
    used = cum.loc[use_cum]
    rows.append(used.assign(amount=derived[use_cum.to_numpy()], estimated=False))
    jc = cum.loc[jan_from_cum]
    rows.append(jc.assign(month=1, amount=jc["num"] - jc["mon_num"], estimated=False))
    sp = cum.loc[split]
    if len(sp):
        ledger.rows_in += len(sp)
        ledger.notes.append(
            f"{len(sp)} January-February combined figure(s) without a separate January were split evenly into "
            "January and February rows marked estimated=True (each counts as two cells here)")
        rows.append(sp.assign(month=1, amount=sp["num"] / 2, estimated=True))
        rows.append(sp.assign(month=2, amount=sp["num"] / 2, estimated=True))
    unused_cum = cum.loc[~use_cum & ~jan_from_cum & ~split]
    if monthly_from == "month":
        superseded = unused_cum["mon_num"].notna() & (derivable.loc[unused_cum.index])
        ledger.add("cumulative_superseded", int(superseded.sum()), _examples(unused_cum.loc[superseded]))
        unused_cum = unused_cum.loc[~superseded]
    ledger.add("cumulative_without_previous_month", len(unused_cum), _examples(unused_cum))
    # month cells: used unless the year-to-date figure gave this month
    taken = cum.loc[use_cum, key + ["month"]].assign(taken=True)
    mon = mon.merge(taken, on=key + ["month"], how="left")
    mon_used = mon["taken"].isna()
    ledger.add("month_column_superseded", int((~mon_used).sum()), _examples(mon.loc[~mon_used]))
    rows.append(mon.loc[mon_used].assign(amount=mon.loc[mon_used, "num"], estimated=False))
    rows.append(invalid.assign(amount=np.nan, estimated=False))
    out = pd.concat([r for r in rows if len(r)] or [invalid.assign(amount=np.nan, estimated=False)],
                    ignore_index=True)
    out["numeric"] = out["valid"].astype(bool)
    out["period"] = np.where(out["year"].notna() & out["month"].notna(),
                             out["year"].fillna(0).astype(int).astype(str) + "-"
                             + out["month"].fillna(0).astype(int).astype(str).str.zfill(2), "")
    return out


EXAMPLE_COLUMNS = ["file", "line", "location", "flow", "kind", "year", "month", "raw"]


def _examples(df: pd.DataFrame) -> pd.DataFrame:
    return df[[c for c in EXAMPLE_COLUMNS if c in df.columns]].head(3)


def _set_aside(ledger: Ledger, cells: pd.DataFrame, mask: pd.Series, reason: str) -> pd.DataFrame:
    mask = np.asarray(mask, dtype=bool)
    ledger.add(reason, int(mask.sum()), _examples(cells.loc[mask]))
    return cells.loc[~mask]


def read(paths: list[Path], *, column_map=None, cny_per_usd=None, unit=None, period=None, table: str = "auto",
         monthly_from: str = "cumulative", sheet=None, **options) -> ReadResult:
    """Read GACC tables (see the module docstring) into one flows table and one ledger (unit: cell)."""
    if column_map is not None:
        raise ConfigError("the china-customs source finds its columns itself and takes no column map; use "
                          "--source table --map MAP.yaml for other layouts")
    if options:
        raise ConfigError(f"unknown option(s) for china-customs: {', '.join(sorted(options))} (known: "
                          "cny_per_usd, unit, period, table, monthly_from, sheet)")
    if monthly_from not in ("cumulative", "month"):
        raise ConfigError(f"monthly_from={monthly_from!r}: use cumulative or month")
    if table not in ("auto", "province", "country"):
        raise ConfigError(f"table={table!r}: use auto, province or country")
    paths = [Path(p) for p in paths]
    ledger = Ledger(stage=STAGE, unit="cell", inputs=[p.name for p in paths])
    frames = []
    for p in paths:
        fc = read_cells(p, unit=unit, period=period, table=table, sheet=sheet)
        cells = fc.cells
        ledger.rows_in += len(cells)
        if fc.currency == "CNY" and cny_per_usd is None:
            raise SourceFormatError(
                "values are in yuan (CNY); give the exchange rate: cny_per_usd=7.1 for one rate, or "
                "cny_per_usd=RATES.csv with monthly rates (columns period,cny_per_usd)", path=p)
        loc = _locate(fc)
        cells = pd.concat([cells, loc], axis=1)
        cells["currency"], cells["file"] = fc.currency, p.name
        cells["raw"] = cells["raw"].astype("str").where(~cells["raw"].isin(NA_VALUES), "")
        num, _, _ = parse_numbers(cells["raw"])
        cells["num"] = num * fc.multiplier
        cells = _set_aside(ledger, cells, cells["flow"] == "T", "not_a_flow")
        cells = _set_aside(ledger, cells, cells["flow"] == "?", "unknown_flow")
        for reason in ("aggregate_area", "unknown_region", "no_location"):
            cells = _set_aside(ledger, cells, cells["reason"] == reason, reason)
        cells = _set_aside(ledger, cells, cells["year"].isna() | cells["month"].isna(), "bad_period")
        ledger.notes.append(f"{p.name}: {fc.table} table, unit {fc.currency} x {fc.multiplier:g}")
        frames.append(cells)
    cells = pd.concat(frames, ignore_index=True)
    cells["year"] = cells["year"].astype("float64")
    cells["month"] = cells["month"].astype("float64")
    rows = _derive(cells, ledger, monthly_from)
    # currency: a number in the file's unit -> US dollars (yuan at the month's own rate)
    usd = rows["amount"].astype("float64")
    cny = rows["numeric"] & (rows["currency"] == "CNY")
    if cny.any():
        rate = _rates(cny_per_usd, paths[0])
        usd.loc[cny] = usd.loc[cny] / rate(rows.loc[cny, "period"]).to_numpy()
    # an unusable cell keeps its text, so finish_flows sets it aside as missing or non-numeric
    value = usd.astype(object).where(rows["numeric"], rows["raw"].astype(object))
    flows = pd.DataFrame({
        "period": rows["period"],
        "reporter": rows["reporter"],
        "region": rows["region"],
        "partner": rows["partner"],
        "flow": rows["flow"],
        "hs": "TOTAL",
        "value_usd": value,
        "valuation": np.where(rows["flow"] == "M", "CIF", "FOB"),
        "estimated": rows["estimated"].astype(bool),
        "source": SOURCE,
    })
    flows = flows.sort_values(["period", "reporter", "region", "partner", "flow"], kind="stable")
    return finish_flows(flows, ledger, SOURCE, where=f"{', '.join(p.name for p in paths)}: china-customs output")

