"""`tradeanomaly signatures`: fraud-pattern checks (series breaks, invoice exports, entrepôt rerouting, rushing)."""

from __future__ import annotations

import click

from ..cli import handle_errors, parse_reader_options, out_option, progress, quiet_option, source_options

CHECKS = ("series", "invoice_export", "entrepot", "rush")


def run_signatures(flows, checks=CHECKS, periods=None):
    """Run the named signature checks on a flows table; one findings table, sorted on explicit keys."""
    import importlib

    import pandas as pd

    from ..schema import make_findings

    frames, results = [], {}
    for name in checks:
        module = importlib.import_module(f"tradeanomaly.checks.{name}")
        res = module.run(flows, periods=periods)
        results[name] = res
        frames.append(res.findings)
    found = [f for f in frames if len(f)]
    out = make_findings(pd.concat(found, ignore_index=True)) if found else make_findings()
    out = out.sort_values(["check", "score", "signal", "subject", "period"],
                          ascending=[True, False, True, True, True], kind="mergesort").reset_index(drop=True)
    return out, results


@click.command("signatures")
@source_options
@out_option(required=True)
@click.option("--period", "period", multiple=True,
              help="Period(s) under test: 2013, 2024-02, a range 2012:2014, or several (repeat or comma). "
                   "Earlier periods serve as history. Default: every period.")
@click.option("--check", "checks", multiple=True, type=click.Choice(CHECKS),
              help="Which signature checks to run (repeatable). Default: all four.")
@quiet_option
@handle_errors
def signatures(source, column_map, files, reader_options, out, period, checks, quiet):
    """Look for fraud signatures across series: series breaks, invoice exports, entrepôt rerouting, rushing.

    Writes OUT/findings.csv (one row per finding, best first within each check, with a sentence in trade terms)
    and OUT/ledger.json (rows read, rows each check used or set aside).
    """
    from pathlib import Path

    from ..schema import ledgers_to_json
    from ..sources import read_source
    from .mirror import _expand_periods

    say = progress(quiet)
    if not files:
        raise click.UsageError("give at least one input FILE")
    periods = _expand_periods(period)
    result = read_source(source, list(files), column_map=column_map,
                         **parse_reader_options(reader_options))
    say(f"read {len(result.flows):,} flows")
    findings, results = run_signatures(result.flows, checks or CHECKS, periods)
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    from ..csvsafe import protect

    protect(findings).to_csv(out_dir / "findings.csv", index=False)
    ledgers = [result.ledger] + [led for r in results.values() for led in r.ledgers]
    (out_dir / "ledger.json").write_text(ledgers_to_json(ledgers), encoding="utf-8")
    counts = findings.groupby("check").size().to_dict() if len(findings) else {}
    say(", ".join(f"{k}: {v:,}" for k, v in counts.items()) or "no findings")
    click.echo(f"wrote {out_dir / 'findings.csv'} ({len(findings):,} findings)")
