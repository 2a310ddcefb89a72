"""The command line: every command documented, fast help, clean errors."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from tradeanomaly import __version__
from tradeanomaly.cli import COMMANDS, main

README = Path(__file__).resolve().parents[1] / "README.md"


def test_every_command_has_help_and_is_in_the_readme():
    readme = README.read_text(encoding="utf-8")
    runner = CliRunner()
    listed = runner.invoke(main, ["--help"], catch_exceptions=False).output
    for name in COMMANDS:
        res = runner.invoke(main, [name, "--help"], catch_exceptions=False)
        assert res.exit_code == 0, name
        body = res.output.split("Options:")[0]
        assert len(body.strip().splitlines()) >= 3, f"`{name}` lacks help text"
        assert re.search(rf"\n  {name}\s+\S", listed), f"`{name}` missing from --help"
        assert f"`tradeanomaly {name}" in readme, f"`tradeanomaly {name}` missing from the README's CLI reference"


def test_version():
    res = CliRunner().invoke(main, ["--version"], catch_exceptions=False)
    assert res.output.strip() == f"tradeanomaly, version {__version__}"


def test_help_does_not_import_heavy_libraries():
    code = ("import sys; from tradeanomaly.cli import main\n"
            "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "heavy = [m for m in ('pandas', 'sklearn', 'pyod', 'scipy', 'matplotlib', 'dask') if m in sys.modules]\n"
            "print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"


@pytest.mark.parametrize("args,needle", [
    (["ingest", "--source", "nosuch", "{f}", "--out", "{d}"], "unknown source `nosuch`"),
    (["run", "--source", "canonical", "{f}", "--out", "{d}"], "missing column"),
    (["run", "--period", "2031-01", "--out", "{d}"], "not in the data"),
])
def test_errors_are_one_clean_message(tmp_path, args, needle):
    f = tmp_path / "bad.csv"
    f.write_text("a,b\n1,2\n")
    args = [a.format(f=f, d=tmp_path / "out") for a in args]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 1
    assert needle in res.output
    assert "Traceback" not in res.output and res.exception is None or isinstance(res.exception, SystemExit)
