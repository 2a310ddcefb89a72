"""`tradeanomaly evaluate`: precision@k, recall@k and average precision of a flags file against planted truth."""

from __future__ import annotations

import click

from ..cli import handle_errors


@click.command("evaluate")
@click.option("--truth", "truth_path", required=True, type=click.Path(exists=True, dir_okay=False),
              help="truth.csv of planted anomalies (written by `tradeanomaly synth`).")
@click.option("--flags", "flags_path", required=True, type=click.Path(exists=True, dir_okay=False),
              help="flags.csv of a run.")
@click.option("--k", "ks", type=click.IntRange(min=1), multiple=True, default=(10, 20, 50), show_default=True,
              help="Cut-offs for precision@k and recall@k (repeat the option for several).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@handle_errors
def evaluate(truth_path, flags_path, ks, as_json):
    """Score a ranked flags file against planted anomalies, overall and per anomaly kind.

    A flag matches a planted anomaly when reporter, partner, hub and region agree, its product is the
    anomaly's product or finer (any product when the anomaly names none) and its periods overlap the anomaly's.
    """
    import json

    from ..evaluation import evaluate_files

    result = evaluate_files(truth_path, flags_path, ks=tuple(sorted(set(ks))))
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2, sort_keys=False))
    else:
        click.echo(result.to_table(), nl=False)
