"""``tradeanomaly explain SUBJECT``: the drill-down for one subject, in the terminal and as one HTML page."""

from __future__ import annotations

import click

from ..cli import config_option, handle_errors


@click.command()
@click.argument("subject")
@config_option
@click.option("--source", "source", default=None, help="Input format of FILE... (as for `run`).")
@click.option("--map", "column_map", type=click.Path(exists=True, dir_okay=False), default=None,
              help="YAML column map for --source table.")
@click.argument("files", nargs=-1, type=click.Path(exists=True, dir_okay=False))
@click.option("--period", default=None, help="Period or range to explain (default: the latest period).")
@click.option("--html", "html_path", type=click.Path(dir_okay=False), default=None,
              help="Also write a one-subject HTML page to this file.")
@click.option("--periods-shown", default=12, show_default=True, help="How many periods of the series to print.")
@handle_errors
def explain(subject, config_path, source, column_map, files, period, html_path, periods_shown):
    """Explain one SUBJECT (CHN>HKG, CHN>HKG:71, CHN>VNM>USA:85, CN-HA, CHN): its flags, findings and series.

    Runs the configured analysis without writing a run folder (with no input: on the embedded sample) and
    prints what concerns SUBJECT.
    """
    from ..config import load_config
    from ..pipeline import run as run_pipeline
    from ..report.subject import explain_subject, render_subject_html

    overrides = {"period": period}
    if files or source or column_map:
        inp = {"files": [str(f) for f in files]}
        if source:
            inp["source"] = source
        if column_map:
            inp["map"] = str(column_map)
        overrides["input"] = inp
    config = load_config(config_path, overrides=overrides)
    result = run_pipeline(config, write=False)
    text, page = explain_subject(result, subject, periods_shown=periods_shown), None
    click.echo(text)
    if html_path:
        page = render_subject_html(result, subject)
        with open(html_path, "w", encoding="utf-8") as fh:
            fh.write(page)
        click.echo(f"wrote {html_path}")
