"""`tradeanomaly mirror`: mirror gaps of every country pair, scored, with findings, reliability and ledger."""

from __future__ import annotations

import click

from ..cli import handle_errors, parse_reader_options, out_option, progress, quiet_option, source_options


def _expand_periods(values: tuple[str, ...]) -> list[str] | None:
    from ..errors import ConfigError
    from ..periods import normalise_period, period_range

    if not values:
        return None
    out: list[str] = []
    for v in values:
        for part in str(v).split(","):
            part = part.strip()
            if not part:
                continue
            ends = part.split(":")
            norm = [normalise_period(e) for e in ends]
            if len(ends) > 2 or any(n is None for n in norm):
                raise ConfigError(f"--period {part!r} is not a period or range: write 2013, 2024-02 or 2012:2014")
            try:
                out += period_range(norm[0], norm[-1]) if len(norm) == 2 else [norm[0]]
            except ValueError as exc:
                raise ConfigError(f"--period {part!r}: {exc}") from None
    return sorted(set(out))


@click.command("mirror")
@source_options
@out_option(required=True)
@click.option("--period", "period", multiple=True,
              help="Period(s) under test: 2013, 2024-02, a range 2012:2014, or several (repeat or comma). "
                   "Earlier periods serve as history. Default: every period.")
@click.option("--tau", type=click.FloatRange(0, 1, max_open=True), default=0.06, show_default=True,
              help="Freight and insurance share of FOB in the importer's CIF value.")
@click.option("--tau-partner", "tau_partner", multiple=True, metavar="ISO3=TAU",
              help="Importer-specific tau, e.g. USA=0 where the import figure is customs value. Repeatable.")
@click.option("--estimate-tau", is_flag=True, help="Estimate each pair's tau from its own history.")
@quiet_option
@handle_errors
def mirror(source, column_map, files, reader_options, out, period, tau, tau_partner, estimate_tau, quiet):
    """Pair exporters' and importers' reports of the same flow and score the gaps.

    Writes OUT/mirror_gaps.csv (every pair of the periods under test: both values, tau, log gap, symmetric gap,
    dollars beyond the freight band, robust z against the pair's history and the exporter's other partners,
    entrepôt label), OUT/findings.csv (ranked by score, with a sentence each), OUT/one_sided.csv (orphaned and
    lost flows), OUT/reliability.csv (reporter reliability), OUT/unit_values.csv and OUT/ledger.json.
    """
    from ..checks import mirror as check
    from ..errors import ConfigError
    from ..sources import read_source

    say = progress(quiet)
    partners = {}
    for item in tau_partner:
        code, _, val = item.partition("=")
        try:
            partners[code.strip().upper()] = float(val)
        except ValueError:
            raise ConfigError(f"--tau-partner {item!r}: write ISO3=TAU, e.g. USA=0") from None
    params = check.MirrorParams(tau=tau, tau_partner=partners, estimate_tau=estimate_tau)
    periods = _expand_periods(period)
    say(f"reading {len(files)} file(s) as {source}")
    read = read_source(source, list(files), column_map=column_map,
                         **parse_reader_options(reader_options))
    say(read.ledger.summary())
    result = check.run(read.flows, params=params, periods=periods)
    result.ledgers.insert(0, read.ledger)
    for led in result.ledgers[1:]:
        say(led.summary())
    written = check.write_outputs(result, out, periods)
    say(f"{len(result.findings)} findings; wrote {', '.join(p.name for p in written.values())} to {out}")
