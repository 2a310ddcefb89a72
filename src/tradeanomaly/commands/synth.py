"""``tradeanomaly synth``: write a synthetic panel with planted anomalies and their truth labels."""

from __future__ import annotations

import click

from ..cli import handle_errors, out_option, progress, quiet_option


@click.command()
@out_option(required=True)
@click.option("--seed", type=int, default=0, show_default=True,
              help="Random seed; the same seed writes the same bytes, another seed plants other subjects.")
@click.option("--years", type=click.IntRange(2, 30), default=6, show_default=True, help="Length of the panel.")
@click.option("--start", default="2017-01", show_default=True, metavar="YYYY-MM", help="First month.")
@quiet_option
@handle_errors
def synth(out, seed, years, start, quiet):
    """Write a synthetic monthly trade panel (flows.csv.gz) and its planted anomalies (truth.csv).

    Forty economies reported from both sides with CIF/FOB margins, 24 HS chapters with quantities, China's
    provinces, entrepôt re-exports and publisher estimates, plus planted invoice exports, transshipment, export
    rushing, unit-value mispricing and fabricated digits. The panel must contain a 2018-2019 tariff date with
    history before it.

    \b
    Example (the embedded sample):
      tradeanomaly synth --out data/sample --seed 0
    """
    from .. import synth as synth_lib

    say = progress(quiet)
    say(f"generating {years * 12} months from {start}, seed {seed} ...")
    panel = synth_lib.generate(seed=seed, start=start, months=years * 12)
    paths = panel.write(out)
    n_planted = int((~panel.truth["negative_control"]).sum())
    n_controls = int(panel.truth["negative_control"].sum())
    say(f"{len(panel.flows):,} flow rows -> {paths['flows']}")
    say(f"{n_planted} planted anomalies and {n_controls} negative controls -> {paths['truth']}")
