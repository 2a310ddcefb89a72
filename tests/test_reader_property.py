"""A property of the canonical and table readers: for any mix of good and bad rows, rows in = kept + set aside,
and every kept value is the number written in its row (matched by the row's distinct partner and product)."""

from __future__ import annotations

import csv
import io

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tradeanomaly.sources import read_source

PARTNERS = ["VNM", "USA", "DEU", "JPN", "KOR", "FRA", "ITA", "BRA"]
ISO2 = {"VNM": "VN", "USA": "US", "DEU": "DE", "JPN": "JP", "KOR": "KR", "FRA": "FR", "ITA": "IT", "BRA": "BR"}
HS = ["010121", "8517", "851712", "85", "TOTAL"]
#: value cells: (text written, the number it means, or None when the row must be set aside)
GOOD = st.one_of(
    st.integers(0, 10**12).map(lambda n: (str(n), float(n))),
    st.decimals(0, 10**9, places=2, allow_nan=False).map(lambda d: (str(d), float(str(d)))),
    st.integers(1000, 10**9).map(lambda n: (f"{n:,}", float(n))),          # thousands separators
    st.floats(0, 1e300, allow_nan=False).map(lambda f: (repr(f), f)),
)
BAD = st.sampled_from([("abc", None), ("12,5", None), ("1.234,56", None), ("-15", None), ("NaN", None),
                       ("inf", None), ("", None), ("1e999", None), ("--", None), ("12 kg", None)])
ROW = st.tuples(st.sampled_from(PARTNERS), st.sampled_from(HS), st.one_of(GOOD, BAD))

TABLE_MAP = """source: prop
renames: {par: partner, amount: value_usd, product: hs}
constants: {reporter: CHN, flow: X}
period: year
country_system: iso2
"""


def _write(rows, layout: str) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    if layout == "canonical":
        w.writerow(["period", "reporter", "region", "partner", "flow", "hs", "value_usd", "valuation", "quantity",
                    "quantity_unit", "estimated", "source"])
        for p, h, (text, _) in rows:
            w.writerow(["2023", "CHN", "", p, "X", h, text, "FOB", "", "", "false", "canonical"])
    else:
        w.writerow(["year", "par", "product", "amount"])
        for p, h, (text, _) in rows:
            w.writerow(["2023", ISO2[p], h, text])
    return buf.getvalue()


@settings(max_examples=40, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(rows=st.lists(ROW, max_size=30, unique_by=lambda r: (r[0], r[1])),
       layout=st.sampled_from(["canonical", "table"]))
def test_rows_in_equals_kept_plus_set_aside_and_kept_values_are_as_written(rows, layout, tmp_path):
    path = tmp_path / f"{layout}.csv"
    text = _write(rows, layout)
    path.write_text(text, encoding="utf-8")
    options = {}
    if layout == "table":
        (tmp_path / "map.yaml").write_text(TABLE_MAP, encoding="utf-8")
        options["column_map"] = str(tmp_path / "map.yaml")
    res = read_source(layout, [path], **options)
    led = res.ledger
    assert led.rows_in == len(text.strip("\n").split("\n")) - 1 == len(rows)
    assert led.rows_in == sum(led.counts.values())
    assert led.kept == len(res.flows)
    written = {(p, h): v for p, h, (_, v) in rows}
    kept = {(r.partner, r.hs): r.value_usd for r in res.flows.itertuples()}
    assert kept == {k: v for k, v in written.items() if v is not None}
