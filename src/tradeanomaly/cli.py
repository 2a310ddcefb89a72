"""Command line. Parses arguments, calls one library function, writes its result; nothing else.

Library errors (:class:`~tradeanomaly.errors.TradeAnomalyError`) become clean messages with exit code 1 (2 for
usage errors); heavy modules are imported inside the commands so that ``tradeanomaly --help`` stays fast.
"""

from __future__ import annotations

import functools
import importlib
import sys

import click

from . import __version__
from .errors import TradeAnomalyError

#: command name -> "module:attribute" of its click command (loaded only when used or listed)
COMMANDS = {
    "synth": "tradeanomaly.commands.synth:synth",
    "ingest": "tradeanomaly.commands.ingest:ingest",
    "run": "tradeanomaly.commands.run:run",
    "mirror": "tradeanomaly.commands.mirror:mirror",
    "benford": "tradeanomaly.commands.benford:benford",
    "signatures": "tradeanomaly.commands.signatures:signatures",
    "evaluate": "tradeanomaly.commands.evaluate:evaluate",
    "explain": "tradeanomaly.commands.explain:explain",
    "fetch": "tradeanomaly.commands.fetch:fetch",
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use (keeps ``--help`` and startup fast)."""

    def list_commands(self, ctx):
        return [name for name in COMMANDS if self._load(name) is not None]

    def get_command(self, ctx, name):
        return self._load(name)

    @staticmethod
    @functools.cache
    def _load(name):
        target = COMMANDS.get(name)
        if target is None:
            return None
        module, attr = target.split(":")
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name == module:
                return None  # command not built in this version
            raise
        return getattr(mod, attr)


def handle_errors(func):
    """Turn library errors into ``click.ClickException`` (message, exit code 1), never a traceback."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except TradeAnomalyError as exc:
            raise click.ClickException(str(exc)) from None
        except FileNotFoundError as exc:
            raise click.ClickException(f"{exc.filename}: file not found") from None
        except MemoryError:
            raise click.ClickException(
                "out of memory: convert large files with `tradeanomaly ingest --partitioned` (one chunk in memory "
                "at a time), then run on fewer periods (--period) or with fewer checks in the configuration") from None

    return wrapper


# -- shared options, written once ------------------------------------------------------------------------------

def parse_reader_options(pairs: tuple[str, ...]) -> dict:
    """``KEY=VALUE`` pairs for a reader; values read as YAML scalars (``true``, ``7.1``, ``2024``, text)."""
    import yaml

    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"`{pair}` is not KEY=VALUE (for example allow_sitc=true)",
                                     param_hint="--option")
        try:
            out[key.strip()] = yaml.safe_load(value)
        except yaml.YAMLError:
            out[key.strip()] = value
    return out


def reader_option(func):
    return click.option("--option", "-o", "reader_options", multiple=True, metavar="KEY=VALUE",
                        help="Reader option, repeatable (allow_sitc=true, cny_per_usd=7.1, "
                             "country_codes=FILE, period=2024).")(func)


def source_options(func):
    """``--source SRC [--map MAP] [--option KEY=VALUE]... FILE...``"""
    func = reader_option(func)
    func = click.argument("files", nargs=-1, type=click.Path(exists=True, dir_okay=True))(func)
    func = click.option("--map", "column_map", type=click.Path(exists=True, dir_okay=False),
                        help="YAML column map for --source table (see configs/maps/).")(func)
    func = click.option("--source", "source", default="canonical", show_default=True,
                        help="Input format: canonical, imf-dots, comtrade, baci, census, china-customs, table.")(func)
    return func


def check_out(ctx, param, value):
    """Click callback: ``--out`` must be a folder path (not a file, not below a file)."""
    if value is None:
        return value
    from .errors import ConfigError
    from .paths import check_out_dir

    try:
        check_out_dir(value)
    except ConfigError as exc:
        raise click.BadParameter(str(exc).removeprefix("--out: "), param_hint="--out") from None
    return value


def out_option(default=None, required=False):
    def deco(func):
        return click.option("--out", "out", type=click.Path(file_okay=False), default=default,
                            required=required, show_default=default is not None, callback=check_out,
                            help="Output folder.")(func)
    return deco


def config_option(func):
    return click.option("--config", "config_path", type=click.Path(exists=True, dir_okay=False),
                        help="YAML configuration (see configs/).")(func)


def quiet_option(func):
    return click.option("--quiet", "-q", is_flag=True, help="No progress messages on stderr.")(func)


def progress(quiet: bool):
    """A callback that shows progress on stderr: nothing with ``quiet`` or when stderr is not a terminal (a log,
    a pipe), so progress never lands in a file; a live line (rich) on a terminal.

    Messages ending in `` ...`` start a step and are shown on the live line; the others are finished steps and
    are printed above it."""
    if quiet or not _stderr_is_tty():
        return TerminalProgress(None)
    try:
        from rich.console import Console
    except ImportError:  # rich is a dependency; a broken install still gets plain lines
        return TerminalProgress(False)
    return TerminalProgress(Console(stderr=True))


def _stderr_is_tty() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


class TerminalProgress:
    """Callable progress sink; ``close()`` (or leaving a ``with`` block) removes the live line."""

    def __init__(self, console):
        self.console = console
        self.status = None

    def __call__(self, msg: str) -> None:
        if self.console is None:
            return
        if self.console is False:
            click.echo(msg, err=True)
            return
        if msg.endswith(" ..."):
            if self.status is None:
                import atexit

                self.status = self.console.status(msg, spinner="dots")
                self.status.start()
                atexit.register(self.close)
            else:
                self.status.update(msg)
        else:
            self.console.print(msg, highlight=False, markup=False)

    def close(self) -> None:
        if self.status is not None:
            self.status.stop()
            self.status = None

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="tradeanomaly")
def main():
    """tradeanomaly: fraud signals in international trade statistics.

    Reads publishers' trade tables (IMF DOTS, UN Comtrade, CEPII BACI, US Census, China Customs, any CSV or
    Parquet with a column map), runs mirror-gap, Benford and signature checks, scores them with a pyod ensemble
    and writes ranked, explained reports. `tradeanomaly run` with no arguments works on the embedded sample.
    """


if __name__ == "__main__":  # pragma: no cover
    main(sys.argv[1:])
