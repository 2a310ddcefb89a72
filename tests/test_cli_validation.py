"""Options, paths and configuration sections are checked before any work starts: one line naming the option,
path or key and how to fix it, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from tradeanomaly.cli import main
from tradeanomaly.errors import SourceFormatError
from tradeanomaly.sources import typed_options

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "data" / "sample" / "flows.csv.gz"


def invoke(args):
    r = CliRunner().invoke(main, [str(a) for a in args])
    assert r.exception is None or isinstance(r.exception, SystemExit), r.exception
    return r


@pytest.mark.parametrize("option,message", [
    ("chunk_rows=abc", "option chunk_rows=abc is not an integer; give for example -o chunk_rows="),
    ("chunk_rows=1.5", "option chunk_rows=1.5 is not an integer"),
    ("allow_extra=maybe", "option allow_extra=maybe is not true or false; give for example -o allow_extra=false"),
])
def test_reader_options_are_typed(tmp_path, option, message):
    r = invoke(["run", "--source", "canonical", "-o", option, SAMPLE, "--out", tmp_path / "o", "-q"])
    assert r.exit_code == 1 and message in r.output, r.output
    assert not (tmp_path / "o").exists()  # nothing written


def test_typed_options_convert_text_to_the_default_type():
    def read(paths, *, column_map=None, chunk_rows: int = 10, scale: float = 1.0, strict: bool = False,
             name: str = "x"):
        return None

    out = typed_options("t", read, {"chunk_rows": "2_000", "scale": "7.1", "strict": "yes", "name": "12",
                                    "other": "kept"})
    assert out == {"chunk_rows": 2000, "scale": 7.1, "strict": True, "name": "12", "other": "kept"}
    with pytest.raises(SourceFormatError, match="option scale=abc is not a number"):
        typed_options("t", read, {"scale": "abc"})


def test_a_folder_given_to_a_file_reader(tmp_path):
    (tmp_path / "dots").mkdir()
    r = invoke(["run", "--source", "imf-dots", tmp_path / "dots", "--out", tmp_path / "o", "-q"])
    assert r.exit_code == 1 and "is a folder; the `imf-dots` reader reads files" in r.output, r.output


@pytest.mark.parametrize("command", [["run"], ["ingest", "--source", "canonical", SAMPLE],
                                     ["signatures", "--source", "canonical", SAMPLE]])
def test_out_below_a_file(tmp_path, command):
    (tmp_path / "afile").write_text("x")
    r = invoke([*command, "--out", tmp_path / "afile" / "sub"])
    assert r.exit_code == 2, r.output
    assert f"{tmp_path / 'afile' / 'sub'} lies below {tmp_path / 'afile'}, which is a file, not a folder" in r.output


def test_out_below_a_file_from_a_configuration(tmp_path):
    (tmp_path / "afile").write_text("x")
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"out: {tmp_path / 'afile' / 'x'}\n")
    r = invoke(["run", "--config", cfg, "-q"])
    assert r.exit_code == 1 and "lies below" in r.output and "reading input" not in r.output, r.output


@pytest.mark.parametrize("yaml_text,message", [
    ("scoring:\n  bogus: 1\n", "scoring: unknown setting(s) bogus; known: detectors,"),
    ("ranking:\n  top_kk: 3\n", "ranking: unknown setting(s) top_kk; known: "),
    ("checks:\n  mirror:\n    params:\n      taux: 1\n", "checks.mirror.params: unknown setting(s) taux; known: tau,"),
    ("checks:\n  benford:\n    params:\n      group_byy: [reporter]\n",
     "checks.benford.params: unknown setting(s) group_byy; known: group_by,"),
])
def test_unknown_settings_are_named_before_reading(tmp_path, yaml_text, message):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml_text)
    r = invoke(["run", "--config", cfg, "--out", tmp_path / "o"])
    assert r.exit_code == 1 and message in r.output, r.output
    assert "reading input" not in r.output  # refused before the input is read


def test_partitioned_ingest_takes_the_chunk_size_once(tmp_path):
    r = invoke(["ingest", "--source", "canonical", "-o", "chunk_rows=abc", SAMPLE, "--out", tmp_path / "i",
                "--partitioned"])
    assert r.exit_code == 2 and "give the chunk size as --chunk-rows N" in r.output, r.output
