"""``tradeanomaly fetch``: download UN Comtrade, IMF IMTS or US Census data into a folder ``run`` reads."""

from __future__ import annotations

import sys

import click

from ..cli import check_out, handle_errors, quiet_option


def _common(func):
    func = quiet_option(func)
    func = click.option("--dry-run", is_flag=True, help="Print the requests (keys redacted) and exit.")(func)
    func = click.option("--out", type=click.Path(file_okay=False), default=None, callback=check_out,
                        help="Output folder. Default: fetched/<publisher>-<hash of the query>, so the same "
                             "query reuses (and resumes) the same folder.")(func)
    return func


def _execute(plan, out, dry_run, quiet):
    from ..fetch import default_out, fetch

    if dry_run:
        for req in plan.requests:
            click.echo(req.describe())
        click.echo(f"{len(plan.requests)} requests; reader: {plan.source}", err=True)
        return
    out = out or default_out(plan)
    for note in plan.notes:
        if not quiet:
            click.echo(f"note: {note}", err=True)
    show = not quiet and sys.stderr.isatty()
    bar = click.progressbar(length=len(plan.requests), label=f"fetch {plan.publisher}", file=sys.stderr) \
        if show else None
    done = [0]

    def progress(i, total, name):
        if bar is not None:
            bar.update(i - done[0])
            done[0] = i

    try:
        if bar is not None:
            bar.__enter__()
        result = fetch(plan, out, progress=progress)
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)
    for w in result.warnings:
        if w not in plan.notes:
            click.echo(f"warning: {w}", err=True)
    m = result.manifest
    click.echo(f"{m['records']:,} records in {len(m['requests'])} responses "
               f"({result.requested} requested, {result.cached} from the folder) -> {result.out_dir}")
    click.echo(f"next: tradeanomaly run {result.out_dir}")


@click.group()
def fetch():
    """Download publishers' data into a folder that `tradeanomaly run FOLDER` reads.

    Each folder holds the raw responses, the files the reader reads and a manifest.json (query, time,
    package versions, sha256 of every file, reader). The same query into the same folder makes no request; a
    killed fetch continues where it stopped. Needs the optional extra: pip install 'tradeanomaly[fetch]'.
    """


@fetch.command()
@click.option("--reporter", required=True, help="Reporter ISO3 code(s), comma-separated (CHN or CHN,USA).")
@click.option("--partner", default="all", show_default=True, help="Partner ISO3 code(s), WLD, or all.")
@click.option("--period", required=True, help="Period or range: 2025-01:2025-10 (monthly) or 2023:2024 (annual).")
@click.option("--freq", type=click.Choice(["M", "A"], case_sensitive=False), default="M", show_default=True,
              help="M monthly, A annual.")
@click.option("--hs", type=click.Choice(["2", "4", "6", "TOTAL"], case_sensitive=False), default="2",
              show_default=True, help="HS digits (all codes at that level) or TOTAL.")
@click.option("--flow", default="X,M", show_default=True, help="Flows: X, M, RX, RM, comma-separated.")
@_common
@handle_errors
def comtrade(reporter, partner, period, freq, hs, flow, out, dry_run, quiet):
    """UN Comtrade Plus final data, one request per period.

    The API key is read from COMTRADE_API_KEY (at most 100,000 records a call). Without it the keyless
    preview endpoint is used, which returns at most 500 records a call: a warning names every period that hit
    the limit. Paced at one request a second.
    """
    from ..fetch import comtrade as client

    _execute(client.plan(reporter=reporter, partner=partner, period=period, freq=freq, hs=hs, flow=flow),
             out, dry_run, quiet)


@fetch.command()
@click.option("--dataset", default="IMTS", show_default=True, help="IMTS (International Trade in Goods; "
                                                                    "DOTS is its former name).")
@click.option("--reporter", required=True, help="Reporter ISO3 code(s), comma-separated (CHN,USA).")
@click.option("--period", required=True, help="Range: 2024-01:2025-10 (monthly), 2024-Q1:2025-Q2, 2020:2024.")
@click.option("--freq", type=click.Choice(["M", "Q", "A"], case_sensitive=False), default="M", show_default=True,
              help="M monthly, Q quarterly, A annual.")
@_common
@handle_errors
def imf(dataset, reporter, period, freq, out, dry_run, quiet):
    """IMF IMTS exports FOB and imports CIF/FOB by partner (SDMX 2.1), one request per reporter.

    No key is needed. The SDMX messages are kept and rendered in the DOTS bulk layout the imf-dots reader
    reads. Paced at two requests a second (the IMF allows 10 in 5 seconds).
    """
    from ..fetch import imf as client

    _execute(client.plan(dataset=dataset, reporter=reporter, period=period, freq=freq), out, dry_run, quiet)


@fetch.command()
@click.option("--flow", type=click.Choice(["imports", "exports"]), default="imports", show_default=True)
@click.option("--partner", default="all", show_default=True, help="Partner ISO3 code(s) or all.")
@click.option("--hs", type=click.Choice(["2", "4", "6", "10"]), default="6", show_default=True)
@click.option("--period", required=True, help="Months: 2025-01:2025-09.")
@_common
@handle_errors
def census(flow, partner, hs, period, out, dry_run, quiet):
    """US Census Bureau monthly trade by partner and HS code, one request per month.

    CENSUS_API_KEY is optional (without it the API allows 500 queries a day). The JSON arrays are kept and
    rendered as CSV for the census reader.
    """
    from ..fetch import census as client

    _execute(client.plan(flow=flow, partner=partner, hs=hs, period=period), out, dry_run, quiet)
