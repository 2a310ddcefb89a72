"""``tradeanomaly run``: the whole analysis and its reports; with no arguments, on the embedded sample."""

from __future__ import annotations

import click

from ..cli import check_out, config_option, handle_errors, parse_reader_options, progress, quiet_option, reader_option


@click.command()
@config_option
@click.option("--source", "source", default=None,
              help="Input format of FILE...: canonical, imf-dots, comtrade, baci, census, china-customs, table.")
@click.option("--map", "column_map", type=click.Path(exists=True, dir_okay=False), default=None,
              help="YAML column map for --source table (see configs/maps/).")
@click.argument("files", nargs=-1, type=click.Path(exists=True, dir_okay=True))
@reader_option
@click.option("--period", default=None,
              help="Period under test: YYYY, YYYY-Qn, YYYY-MM, a range 2023-01:2023-12, or `all`. "
                   "Default: the latest period in the data.")
@click.option("--out", default=None, type=click.Path(file_okay=False), callback=check_out,
              help="Output folder; each run writes OUT/<run id>/. Default: reports.")
@click.option("--seed", type=int, default=None, help="Random seed of the detectors (default 0).")
@click.option("--engine", type=click.Choice(["pandas", "dask"]), default=None,
              help="pandas (default) or dask: read any input and run the checks on Dask workers; the flows stay "
                   "on the workers.")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Worker processes of the local Dask cluster (--engine dask).")
@click.option("--scheduler-address", default=None, help="Attach to this Dask scheduler instead of a local one.")
@click.option("--previous", "previous", type=click.Path(exists=True, file_okay=False), default=None,
              help="Earlier run folder (OUT/<run id>/) to mark cases new, persisting or resolved against. "
                   "Default: the last earlier run in OUT.")
@click.option("--excel/--no-excel", "excel", default=None,
              help="Write flags.xlsx (needs the `excel` extra). Default: when openpyxl is installed.")
@click.option("--partitions", type=click.IntRange(min=1), default=None,
              help="Partitions of the flows under --engine dask (default 8, one per million rows above that).")
@click.option("--memory-limit", default=None, help="Memory limit of each local Dask worker, e.g. 3GB.")
@quiet_option
@handle_errors
def run(config_path, source, column_map, files, reader_options, period, out, seed, engine, workers,
        scheduler_address, previous, excel, partitions, memory_limit, quiet):
    """Read, check, score and rank; write flags, findings, report.md/html, ledger and manifest.

    With no arguments it runs on the embedded sample made by the generator. A folder written by
    `tradeanomaly fetch` is read with the reader its manifest.json names (no --source needed). Outputs go to OUT/<run id>/,
    written atomically; flags are marked new, persisting or resolved against the previous run in OUT.
    """
    from ..config import load_config
    from ..pipeline import run as run_pipeline

    overrides = {"period": period, "out": out, "seed": seed}
    if engine or workers or scheduler_address or partitions or memory_limit:
        overrides["engine"] = {k: v for k, v in (("name", engine), ("workers", workers),
                                                 ("scheduler_address", scheduler_address),
                                                 ("partitions", partitions), ("memory_limit", memory_limit)) if v}
    if len(files) == 1 and source is None and column_map is None:
        from ..fetch.store import reader_input

        fetched = reader_input(files[0])  # a folder written by `tradeanomaly fetch`: its manifest names the reader
        if fetched is not None:
            source, files = fetched["source"], tuple(fetched["files"])
            reader_options = tuple(f"{k}={v}" for k, v in fetched["options"].items()) + tuple(reader_options)
    if files or source or column_map or reader_options:
        inp = {"files": [str(f) for f in files]}
        if reader_options:
            inp["options"] = parse_reader_options(reader_options)
        if source:
            inp["source"] = source
        if column_map:
            inp["map"] = str(column_map)
        overrides["input"] = inp
    config = load_config(config_path, overrides=overrides)
    with progress(quiet) as say:
        result = run_pipeline(config, progress=say, previous=previous,
                              excel="auto" if excel is None else ("yes" if excel else "no"))
    flags = result.flags
    n_ranked = int(flags["rank"].notna().sum()) if flags is not None and "rank" in flags else 0
    click.echo(f"run {result.run_id}: {result.n_flows:,} flows, {len(result.findings):,} findings, "
               f"{n_ranked} ranked cases for {', '.join(result.periods[:3])}"
               f"{' ...' if len(result.periods) > 3 else ''}")
    click.echo(f"report: {result.out_dir / 'report.html'}")
