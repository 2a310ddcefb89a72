"""Unit values against the pair's own history: collusive mispricing (both reports carry the same inflated price,
quantities unchanged) is found, a price move shared by all of an exporter's partners is not."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from tradeanomaly.checks import mirror
from tradeanomaly.schema import coerce_flows

PARTNERS = ["AUS", "USA", "JPN", "KOR", "DEU", "FRA", "GBR", "ITA"]


def _panel(inflate=1.6, months=range(18, 21), small="ITA", index_jump=1.4, seed=5) -> pd.DataFrame:
    """24 months of CHN's HS 85 exports to eight partners, both sides reporting value and kg with their own noise;
    every partner's price rises by ``index_jump`` from month 13 (the product's price, not fraud); the small pair
    CHN -> ``small`` (a 50th of the others) is invoiced at ``inflate`` times its value by both sides in ``months``."""
    rng = np.random.default_rng(seed)
    rows = []
    for t in range(1, 25):
        per = f"{2019 + (t - 1) // 12}-{(t - 1) % 12 + 1:02d}"
        price = 12.0 * (index_jump if t >= 13 else 1.0)
        for b in PARTNERS:
            kg = (2e4 if b == small else 1e6) * math.exp(rng.normal(0, 0.05))
            fob = kg * price * math.exp(rng.normal(0, 0.01))
            k = inflate if (b == small and t in months) else 1.0
            x = fob * k * math.exp(rng.normal(0, 0.01))
            m = fob * k * 1.06 * math.exp(rng.normal(0, 0.01))
            base = dict(period=per, hs="85", region="", estimated=False, source="test", quantity_unit="kg")
            rows.append(dict(base, reporter="CHN", partner=b, flow="X", value_usd=x, valuation="FOB",
                             quantity=kg * math.exp(rng.normal(0, 0.01))))
            rows.append(dict(base, reporter=b, partner="CHN", flow="M", value_usd=m, valuation="CIF",
                             quantity=kg * math.exp(rng.normal(0, 0.01))))
    return coerce_flows(pd.DataFrame(rows))


def _own(flows) -> pd.DataFrame:
    f = mirror.run(flows).findings
    return f.loc[f["signal"] == "unit_value.own_history"].sort_values("score", ascending=False, kind="mergesort")


def test_collusive_mispricing_of_a_small_pair_is_found_and_a_shared_price_move_is_not():
    own = _own(_panel())
    top = own.head(3)
    assert set(top["subject"]) == {"CHN>ITA:85"}
    assert sorted(top["period"]) == ["2020-06", "2020-07", "2020-08"]
    assert "both reports carry the new price" in top["detail"].iloc[0]
    # the planted price is about 1.6 times the norm the check states
    assert np.allclose(top["value"] / top["expected"], 1.6, rtol=0.08)
    # the product's price rising for every partner in 2020-01 is no pair's own move
    assert not ((own["period"] == "2020-01") & (own["score"] >= 3.5)).any()
    # both sides seen together are stronger evidence than either alone would be (each ~ the same z)
    assert top["score"].min() > 10


def test_without_the_inflation_no_pair_stands_out():
    own = _own(_panel(inflate=1.0))
    assert own.empty or own["score"].max() < 6
