"""Hostile configuration and column-map files, a flags file with nothing to score, non-numeric reader options and
paths that try to break out of report.md's code fence: each ends in one clear line, or in a well-formed report."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner

from tradeanomaly.cli import main

BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{n}: &{n} [{', '.join(['*' + p] * 9)}]\n" for p, n in zip("abcdefgh", "bcdefghi"))
HOSTILE_YAML = {
    "alias_bomb": (BOMB.encode(), "YAML aliases"),
    "python_tag": (b"seed: !!python/object/apply:os.system ['echo pwned']\n", "tags that build Python objects"),
    "python_name": (b"out: !!python/name:os.system\n", "tags that build Python objects"),
    "not_a_mapping": (b"- seed\n- 3\n", "mapping"),
    "bad_indentation": (b"seed: 1\n  out: x\n out: y\n", "line "),
    "latin1": ("seed: 1\n# réglages\n".encode("latin-1"), "save it as UTF-8"),
    "utf16": ("seed: 1\n".encode("utf-16"), "save it as UTF-8"),
}


def _one_line(result, *needles):
    assert result.exit_code in (1, 2), result.output
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit), \
        repr(result.exception)
    msg = result.output.strip()
    assert "Traceback" not in msg and "\n" not in msg, msg
    for n in needles:
        assert n in msg, (n, msg)
    return msg


@pytest.mark.parametrize("kind", sorted(HOSTILE_YAML))
def test_hostile_configuration_is_one_line(kind, tmp_path):
    data, words = HOSTILE_YAML[kind]
    cfg = tmp_path / f"{kind}.yaml"
    cfg.write_bytes(data)
    result = CliRunner().invoke(main, ["run", "--config", str(cfg), "--out", str(tmp_path / "out")])
    _one_line(result, cfg.name, words)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


@pytest.mark.parametrize("kind", sorted(HOSTILE_YAML))
def test_hostile_column_map_is_one_line(kind, tmp_path):
    data, words = HOSTILE_YAML[kind]
    cmap = tmp_path / f"{kind}.yaml"
    cmap.write_bytes(data)
    table = tmp_path / "t.csv"
    table.write_text("year,rep,par,dir,amount\n2022,CN,VN,Exports,100\n")
    result = CliRunner().invoke(main, ["ingest", "--source", "table", "--map", str(cmap), "--out",
                                       str(tmp_path / "out"), str(table)])
    _one_line(result, cmap.name, words)


def test_non_utf8_configuration_names_the_byte(tmp_path):
    cfg = tmp_path / "c.yaml"
    head = b"seed: 1\nout: caf"
    cfg.write_bytes(head + b"\xe9\n")
    msg = _one_line(CliRunner().invoke(main, ["run", "--config", str(cfg)]), "c.yaml", f"byte {len(head)}",
                    "save it as UTF-8")
    assert "0xe9" in msg


@pytest.mark.parametrize("content", ["", "rank,subject,period,score\n"], ids=["empty", "header_only"])
def test_evaluate_with_nothing_to_score_is_one_line(content, tmp_path):
    truth = tmp_path / "truth.csv"
    truth.write_text("anomaly_id,kind,reporter,period_start\nA1,invoice_export,CHN,2022-01\n")
    flags = tmp_path / "flags.csv"
    flags.write_text(content)
    result = CliRunner().invoke(main, ["evaluate", "--truth", str(truth), "--flags", str(flags)])
    _one_line(result, "flags.csv", "give the flags.csv")


@pytest.mark.parametrize("source, option, name", [
    ("imf-dots", "value_multiplier=abc", "dots.csv"),
    ("imf-dots", "value_multiplier=1e6x", "dots.csv"),
    ("baci", "chunk_rows=abc", "BACI_HS17_Y2019_V202401.csv"),
    ("baci", "chunk_rows=1.5", "BACI_HS17_Y2019_V202401.csv"),
    ("baci", "chunk_rows=0", "BACI_HS17_Y2019_V202401.csv"),
])
def test_non_numeric_reader_options_are_one_line(source, option, name, tmp_path):
    path = tmp_path / name
    path.write_text("t,i,j,k,v,q\n2019,156,704,010121,12.5,1\n")
    result = CliRunner().invoke(main, ["ingest", "--source", source, "-o", option, "--out",
                                       str(tmp_path / "out"), str(path)])
    key = option.split("=")[0]
    _one_line(result, key)
    assert not (tmp_path / "out" / "flows.parquet").exists()


HOSTILE_DIR = "a`b```c\n## Injected <script>alert(1)</script>\n~~~\n"


def _fences(text: str) -> list[tuple[int, str]]:
    return [(i, m.group(1)) for i, line in enumerate(text.split("\n")) if (m := re.match(r"^(`{3,}|~{3,})", line))]


@pytest.mark.slow
def test_hostile_out_path_leaves_report_md_well_formed(tmp_path):
    out = tmp_path / HOSTILE_DIR
    result = CliRunner().invoke(main, ["run", "--out", str(out), "-q"])
    assert result.exit_code == 0, result.output
    (report,) = out.glob("*/report.md")
    text = report.read_text(encoding="utf-8")
    section = text[text.index("## Reproduce this run"):]
    # one code block, opened and closed by the same fence, longer than any backtick run in the paths
    lines = section.split("\n")
    opener = next(i for i, line in enumerate(lines) if line.startswith("```"))
    fence = re.match(r"^`+", lines[opener]).group(0)
    assert len(fence) > 3 and lines[opener] == fence + "sh"
    closer = next(i for i in range(opener + 1, len(lines)) if lines[i].startswith(fence))
    assert lines[closer] == fence
    command = "\n".join(lines[opener + 1:closer])
    import shlex

    words = shlex.split(command)
    assert words[:3] == ["tradeanomaly", "run", "--config"] and words[4] == "--out" and words[5] == str(out)
    assert words[3] == str(out / report.parent.name / "config.yaml")
    # nothing of the path outside the block
    outside = "\n".join(lines[:opener] + lines[closer + 1:])
    assert "<script>" not in outside and "## Injected" not in outside
    markdown_it = pytest.importorskip("markdown_it")
    tokens = markdown_it.MarkdownIt("commonmark").parse(text)
    headings = [tokens[i + 1].content for i, t in enumerate(tokens) if t.type == "heading_open"]
    assert not any("Injected" in h for h in headings), headings
    assert not any(t.type in ("html_block", "html_inline") and "<script" in t.content for t in tokens)
    fenced = [t for t in tokens if t.type == "fence" and "tradeanomaly run" in t.content]
    assert len(fenced) == 1 and fenced[0].content.rstrip("\n") == command
    html = markdown_it.MarkdownIt("commonmark").render(text)
    assert "<script>" not in html and "&lt;script&gt;" in html
