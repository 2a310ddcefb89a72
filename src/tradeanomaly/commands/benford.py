"""``tradeanomaly benford``: Benford and digit tests on one column of any table, or on the flows table."""

from __future__ import annotations

import json

import click

from ..cli import handle_errors


@click.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--column", "column", default=None,
              help="Column of amounts to test (default: value_usd with --source).")
@click.option("--group-by", "group_by", default=None,
              help="Comma-separated columns: run every test for each group in one pass, with Benjamini-Hochberg "
                   "q-values across groups (default with --source: reporter).")
@click.option("--min-value", "min_value", type=float, default=10.0, show_default=True,
              help="Amounts below this are left out of the digit tests (Nigrini: 10). 0 takes every value.")
@click.option("--min-n", "min_n", type=int, default=None,
              help="Fewest amounts for a verdict; fewer give 'insufficient data' (default 100, 300 with --source).")
@click.option("--source", "source", default=None,
              help="Read FILE... as a flows table with this reader (canonical, imf-dots, comtrade, baci, census, "
                   "china-customs, table) and run the benford check on it.")
@click.option("--map", "column_map", type=click.Path(exists=True, dir_okay=False), default=None,
              help="YAML column map for --source table.")
@click.option("--second-order", is_flag=True, help="Add Nigrini's second-order test (one sample only).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@handle_errors
def benford(files, column, group_by, min_value, min_n, source, column_map, second_order, as_json):
    """Benford/digit forensics: first, second, first-two and last-two digits, summation, duplication, round
    numbers and mantissa arc, with Z, chi-square, KS, MAD against Nigrini's bounds and the MAD expected for an
    honest sample of the same size.

    Positive and negative amounts are analysed apart; zeros are left out. With --group-by every group is tested
    in one vectorised pass.
    """
    import numpy as np
    import pandas as pd

    from ..checks import benford as bf
    from ..errors import ConfigError

    groups = [c.strip() for c in group_by.split(",") if c.strip()] if group_by else []
    if source:
        from ..sources import read_source

        flows, _ledger = read_source(source, list(files), column_map=column_map)
        if column and column != "value_usd":
            raise ConfigError("with --source the amounts are the flows table's `value_usd`; drop --column")
        result = bf.run(flows, group_by=groups or ["reporter"], min_value=min_value,
                        min_n=300 if min_n is None else min_n)
        _echo_check(result, as_json)
        return
    if not column:
        raise ConfigError("name the column of amounts with --column COL (or read a flows table with --source)")
    table = _read_table(files, column, groups)
    values = pd.to_numeric(table[column], errors="coerce").to_numpy(dtype=np.float64)
    min_n = 100 if min_n is None else min_n
    if not groups:
        out = {}
        pos = bf.benford(values, min_value=min_value, min_n=min_n, second_order=second_order)
        out.update(pos.to_dict())
        if (values < 0).any():
            out["negative"] = bf.benford(values, min_value=min_value, sign="negative", min_n=min_n,
                                         second_order=second_order).to_dict()
        if as_json:
            click.echo(json.dumps(out, indent=2, allow_nan=False))
        else:
            click.echo(_text_one(column, pos))
            if "negative" in out:
                click.echo("")
                click.echo(_text_one(f"{column} (negative values, as absolute values)",
                                     bf.benford(values, min_value=min_value, sign="negative", min_n=min_n)))
        return
    gb = bf.analyse_groups(values, table[groups].astype("str"), min_value=min_value, min_n=min_n)
    bf.qvalues(gb)
    audit = gb.audit_table()
    if as_json:
        rows = []
        for i in range(gb.n_groups):
            d = {"key": {c: str(gb.keys.iloc[i][c]) for c in groups}}
            d["qvalues"] = {k: _q(v[i]) for k, v in gb.qvalues.items()}
            d.update(gb.result(i).to_dict())
            rows.append(d)
        click.echo(json.dumps({"group_by": groups, "groups": rows}, indent=2, allow_nan=False))
    else:
        cols = groups + ["n", "first_digit_mad", "first_two_digits_mad", "first_two_digits_mad_expected",
                         "first_two_digits_conformity", "first_two_digits_qvalue", "round_share"]
        audit = audit.sort_values(["first_two_digits_qvalue", "n"] + groups,
                                  ascending=[True, False] + [True] * len(groups), kind="mergesort",
                                  na_position="last")
        click.echo(audit[cols].to_string(index=False, float_format=lambda v: f"{v:.4g}"))


def _q(logq):
    import math

    return None if logq != logq else math.exp(logq)


def _read_table(files, column, groups):
    import pandas as pd

    from ..errors import SourceFormatError
    from ..sources.base import NA_VALUES

    frames = []
    for f in files:
        name = str(f).lower()
        if name.endswith(".parquet"):
            df = pd.read_parquet(f)
        else:
            df = pd.read_csv(f, dtype=str, keep_default_na=False, na_values=NA_VALUES,
                             sep=None if name.endswith((".txt", ".tsv")) else ",", engine="python"
                             if name.endswith((".txt", ".tsv")) else "c")
        missing = [c for c in [column] + groups if c not in df.columns]
        if missing:
            raise SourceFormatError(f"column(s) {missing} not found; the file has {list(df.columns)}", path=f)
        frames.append(df[[column] + groups])
    return pd.concat(frames, ignore_index=True)


def _text_one(column, res) -> str:
    lines = [f"{column}: n = {res.n:,} amounts >= {res.min_value:g}, spanning {res.span_decades} decades"]
    for name, t in res.tests.items():
        if t.chi2 is None:
            over = ", ".join(str(d) for d in t.over_represented(3))
            lines.append(f"  {name:17s} MAD {t.mad if t.mad is not None else float('nan'):.5f}  largest shares of "
                         f"the summed amounts: {over}")
            continue
        over = ", ".join(str(d) for d in t.over_represented(3))
        lines.append(
            f"  {name:17s} n {t.n:>10,}  MAD {t.mad:.5f} (honest {t.mad_expected:.5f})  {t.conformity:32s} "
            f"chi2 {t.chi2:,.1f} p {t.chi2_pvalue:.3g}  KS {t.ks:.4f}/{t.ks_critical:.4f}  over: {over}")
    arc = res.mantissa_arc
    nan = float("nan")

    def num(v):
        return nan if v is None else v

    lines.append(f"  distortion factor {num(res.distortion_factor):.2f}%   mantissa arc L2 {num(arc.l2):.3g} "
                 f"p {num(arc.pvalue):.3g}")
    rn = res.round_numbers
    lines.append(f"  round numbers: {rn.count:,} of {rn.n:,} are multiples of {rn.unit * 100:g} "
                 f"({(rn.share or 0):.2%}, expected 1%)")
    top = ", ".join(f"{v:g} x{c}" for v, c in zip(res.duplicates.values, res.duplicates.counts))
    lines.append(f"  most repeated: {top or 'none'}")
    return "\n".join(lines)


def _echo_check(result, as_json):
    f = result.findings
    if as_json:
        audit = result.tables["benford_audit"]
        click.echo(json.dumps({
            "findings": json.loads(f.to_json(orient="records")),
            "audit": json.loads(audit.to_json(orient="records")),
            "ledger": [led.to_dict() for led in result.ledgers],
        }, indent=2))
        return
    for led in result.ledgers:
        click.echo(led.summary())
    if len(f) == 0:
        click.echo("no benford findings")
        return
    for row in f.head(50).itertuples(index=False):
        click.echo(f"{row.score:6.2f}  {row.signal:26s} {row.subject:14s} {row.detail}")
