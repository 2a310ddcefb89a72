"""``tradeanomaly ingest``: read publisher files into the flows table (Parquet) and its ledger."""

from __future__ import annotations

import click

from ..cli import handle_errors, parse_reader_options, out_option, source_options


@click.command()
@source_options
@out_option(required=True)
@click.option("--partitioned", is_flag=True,
              help="Stream each file chunk by chunk into OUT/flows/period=.../*.parquet (bounded memory, "
                   "restartable: files already converted are skipped, an interrupted file resumes after its last "
                   "complete chunk).")
@click.option("--chunk-rows", type=click.IntRange(min=1), default=1_000_000, show_default=True,
              help="Rows per chunk with --partitioned.")
@click.option("--quiet", "-q", is_flag=True, help="No progress messages on stderr (with --partitioned).")
@handle_errors
def ingest(source, column_map, files, reader_options, out, partitioned, chunk_rows, quiet):
    """Read input files into OUT/flows.parquet and OUT/ledger.json; print the ledger.

    The two files are written together (OUT/ingest.json, written last, lists them): an ingest that fails, for
    example on a full disk, leaves an earlier one in OUT as it was. One ingest at a time writes into OUT.

    FILE... are read in the --source format (with --map for the `table` format). With --partitioned the flows
    go to OUT/flows/period=P/ (Parquet partitioned by period), read back with `--source canonical OUT`; an
    interrupted ingest resumes where it stopped when run again with the same files.

    Every input row is either kept or counted under a reason (duplicate, non_numeric_value, aggregate_area,
    unknown_country, ...): rows in = rows kept + rows set aside.
    """
    from pathlib import Path

    from ..sources import read_source

    if not files:
        raise click.UsageError("give at least one input FILE")
    options = parse_reader_options(reader_options)
    if partitioned and "chunk_rows" in options:
        raise click.UsageError("with --partitioned give the chunk size as --chunk-rows N, not as a reader option "
                               "-o chunk_rows=...")
    if partitioned:
        from ..cli import progress
        from ..ingest import ingest_partitioned

        res = ingest_partitioned(source, list(files), out, column_map=column_map, chunk_rows=chunk_rows,
                                 **options, progress=progress(quiet))
        click.echo(format_ledger(res.ledger))
        done = sum(f["status"] in ("converted", "resumed") for f in res.files)
        resumed = sum(f["status"] == "resumed" for f in res.files)
        click.echo(f"wrote {res.flows_dir} ({res.ledger.kept:,} flows; {done} file(s) converted"
                   + (f" ({resumed} resumed)" if resumed else "")
                   + f", {len(res.files) - done} already done) and {Path(out) / 'ledger.json'}")
        return
    from ..ingest import write_whole

    result = read_source(source, list(files), column_map=column_map, **options)
    out_dir = Path(out)
    write_whole(result.flows, result.ledger, out_dir)
    click.echo(format_ledger(result.ledger))
    click.echo(f"wrote {out_dir / 'flows.parquet'} ({len(result.flows):,} flows) and {out_dir / 'ledger.json'}")


def format_ledger(ledger) -> str:
    lines = [f"ledger {ledger.stage}: {ledger.rows_in:,} {ledger.unit}s in"]
    width = max([len(k) for k in ledger.counts] + [4])
    for reason, n in ledger.counts.items():
        ex = ledger.examples.get(reason)
        hint = ""
        if ex and reason != "kept":
            hint = "  e.g. " + ", ".join(f"{k}={v!r}" for k, v in list(ex[0].items())[:6])
        lines.append(f"  {reason:<{width}}  {n:>12,}{hint}")
    for note in ledger.notes:
        lines.append(f"  note: {note}")
    return "\n".join(lines)
