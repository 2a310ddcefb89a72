"""The report's first screen, its charts, flags.xlsx and the terminal progress, on one generated run."""

from __future__ import annotations

import hashlib
import io
import re
from html import escape as html_escape

import pandas as pd
import pytest

from report_support import EVIL_FORMULA, EVIL_SCRIPT, _config, report_runs  # noqa: F401
from tradeanomaly.pipeline import run


@pytest.fixture
def runs(report_runs):
    return report_runs


def test_overview_three_lines_match_the_flags(runs):
    _, _, first, second = runs
    html = (second.out_dir / "report.html").read_text(encoding="utf-8")
    flags = pd.read_csv(second.out_dir / "flags.csv", dtype=str, keep_default_na=False)
    ranked = flags[(flags["label"] == "fraud_signal") & (flags["status"] != "resolved")]
    assert len(ranked) > 0
    cases = re.search(r'<li id="overview-cases">(.*?)</li>', html).group(1)
    assert cases.startswith(f"{len(ranked)} ranked case")
    for kind, n in ranked["kind"].value_counts().items():
        assert f"{n} {kind.replace('_', ' ')}" in cases
    total = pd.to_numeric(ranked["usd_at_stake"]).sum()
    from tradeanomaly.report import fmt_usd

    dollars = re.search(r'<li id="overview-dollars">(.*?)</li>', html).group(1)
    assert dollars.startswith(f"{fmt_usd(total)} USD at stake")
    change = re.search(r'<li id="overview-change">(.*?)</li>', html).group(1)
    n_new = int((ranked["status"] == "new").sum())
    n_pers = int((ranked["status"] == "persisting").sum())
    n_res = int((flags["status"] == "resolved").sum())
    assert change == (f"Since the previous run {first.run_id}: {n_new} new, {n_pers} persisting, "
                      f"{n_res} resolved (flagged then, not now).")
    assert n_pers > 0  # the generated anomalies last more than a month
    first_html = (first.out_dir / "report.html").read_text(encoding="utf-8")
    assert "No previous run to compare with" in first_html
    # overview first, then the table; the top-cases chart names the case with the most dollars
    assert html.index('id="overview"') < html.index('id="flags-table"')
    top = ranked.assign(u=pd.to_numeric(ranked["usd_at_stake"])).sort_values("u", ascending=False).iloc[0]
    chart = html[html.index('class="chart overview-chart"'):html.index('id="flags-table"')]
    assert f"#{top['rank']} {top['subject']}" in chart


def test_every_card_has_the_chart_of_its_series(runs):
    _, _, _, second = runs
    html = (second.out_dir / "report.html").read_text(encoding="utf-8")
    ranked = second.flags[(second.flags["label"] == "fraud_signal") & (second.flags["status"] != "resolved")]
    cards = re.findall(r'<section class="card" id="card-(\d+)">(.*?)</section>', html, flags=re.S)
    assert len(cards) == min(len(ranked), 50)
    for (_, body), subject in zip(cards, ranked["subject"]):
        assert html_escape(subject) in body
        assert "Chart unavailable" not in body
        if ">" in subject or re.fullmatch(r"[A-Z]{2}-\w+", subject) or subject.endswith(("[M]", "[X]")):
            assert "<svg" in body and "no data</text>" not in body, subject
            assert 'fill="#fde2e2"' in body, subject  # the flagged period is shaded
            assert ">month</text>" in body and (">USD</text>" in body or ">index</text>" in body)


def test_markup_in_names_stays_escaped(runs):
    _, _, _, second = runs
    html = (second.out_dir / "report.html").read_text(encoding="utf-8")
    assert EVIL_SCRIPT not in html
    assert "&lt;script&gt;alert(" in html  # shown as text in the ledger's examples
    assert html.lower().count("<script") == 1  # the report's own sorting script, nothing else


def test_escaping_in_a_flag_subject():
    """A subject carrying markup goes through the table, the chart and the headline as text."""
    from tradeanomaly.report import render_html, top_cases_chart

    flags = pd.DataFrame([{"rank": 1, "case_id": "c", "subject": EVIL_SCRIPT, "kind": "mirror_gap",
                           "period": "2020-01", "score": 1.0, "confidence": "high", "usd_at_stake": 5e6,
                           "status": "new", "headline": EVIL_SCRIPT, "explanation": EVIL_SCRIPT,
                           "signals": "mirror.peer_z", "label": "fraud_signal"}])
    svg = top_cases_chart(flags, 1)
    assert "<script" not in svg and "&lt;script&gt;" in svg
    from tradeanomaly.report import overview, _split_flags

    ctx = {"run_id": "r", "period_text": "2020-01", "n_flows": 1, "n_findings": 1, "ranked": flags.to_dict("records"),
           "overview": overview(_split_flags(flags), None), "top_chart": svg, "kinds": ["mirror_gap"],
           "chronic": [], "structural": [], "resolved": [], "cards": [], "ledgers": [], "reliability": [],
           "reliability_columns": [], "benford_audit": [], "benford_columns": [], "estimates_sentence": "",
           "methods": [], "previous_run": None, "reproduce": "", "inputs": []}
    html = render_html(ctx)
    assert html.lower().count("<script") == 1 and html.count("&lt;script&gt;") >= 4


def test_same_input_same_report_bytes(runs):
    """The same run again into the same folder (the reproduce line names it) gives the same report bytes."""
    panel, out, first, second = runs
    names = ("report.html", "report.md", "flags.xlsx", "flags.csv")
    before = {n: hashlib.sha256((second.out_dir / n).read_bytes()).hexdigest() for n in names}
    again = run(_config(panel, out, "2019-12"), excel="yes", previous=first.out_dir)
    assert again.out_dir == second.out_dir
    for n in names:
        assert hashlib.sha256((again.out_dir / n).read_bytes()).hexdigest() == before[n], n


def test_previous_folder_is_used_and_checked(runs, tmp_path):
    from tradeanomaly.errors import ConfigError

    panel, _, first, _ = runs
    res = run(_config(panel, tmp_path, "2019-12"), previous=first.out_dir, excel="no")
    assert res.previous_run == first.run_id
    assert not (res.out_dir / "flags.xlsx").exists()
    assert (res.out_dir / "flags.csv").read_bytes() == (runs[3].out_dir / "flags.csv").read_bytes()
    with pytest.raises(ConfigError, match="no flags.csv there"):
        run(_config(panel, tmp_path, "2019-12"), previous=tmp_path / "nothing")


def test_xlsx_sheets_text_and_filters(runs):
    openpyxl = pytest.importorskip("openpyxl", reason="openpyxl is in the excel and dev extras")
    _, _, _, second = runs
    wb = openpyxl.load_workbook(second.out_dir / "flags.xlsx")
    assert wb.sheetnames == ["cases", "members", "findings", "ledger"]
    flags = pd.read_csv(second.out_dir / "flags.csv", dtype=str, keep_default_na=False)
    ws = wb["cases"]
    assert ws.max_row == len(flags) + 1 and ws.freeze_panes == "A2"
    assert ws.auto_filter.ref == f"A1:{openpyxl.utils.get_column_letter(ws.max_column)}{len(flags) + 1}"
    assert [c.value for c in ws[1]] == list(flags.columns)
    assert wb["findings"].max_row == len(second.findings) + 1
    assert wb["members"].max_row == len(second.members) + 1
    # the formula partner sits in the ledger's examples: a string cell, never a formula
    ledger = wb["ledger"]
    cells = [c for row in ledger.iter_rows(min_row=2) for c in row if isinstance(c.value, str)
             and "HYPERLINK" in c.value]
    assert cells and all(c.data_type == "s" for c in cells)
    rows = {(r[0].value, r[2].value): r[3].value for r in ledger.iter_rows(min_row=2)}
    read = second.ledgers[0].to_dict()
    assert rows[(read["stage"], "kept")] == read["kept"]
    assert sum(n for (st, _), n in rows.items() if st == read["stage"]) == read["rows_in"]


def test_xlsx_formula_text_cell_roundtrip(tmp_path):
    openpyxl = pytest.importorskip("openpyxl", reason="openpyxl is in the excel and dev extras")
    from tradeanomaly.report.excel import workbook_bytes

    flags = pd.DataFrame({"subject": [f"CHN>{EVIL_FORMULA}", EVIL_FORMULA, "+1", "-x", "@SUM(A1)"],
                          "usd_at_stake": [1.5, -2.0, float("nan"), 3.0, 4.0]})
    data = workbook_bytes(flags, None, None, pd.DataFrame({"stage": ["read"]}))
    assert data == workbook_bytes(flags, None, None, pd.DataFrame({"stage": ["read"]}))
    buf = io.BytesIO(data)
    ws = openpyxl.load_workbook(buf)["cases"]
    col = [ws.cell(row=r, column=1) for r in range(2, 7)]
    assert [c.value for c in col] == list(flags["subject"])
    assert [c.data_type for c in col] == ["s"] * 5
    assert [ws.cell(row=r, column=2).value for r in range(2, 7)] == [1.5, -2.0, None, 3.0, 4.0]
    assert ws.cell(row=3, column=2).data_type == "n"
    # also to a path and an open stream
    p = tmp_path / "f.xlsx"
    from tradeanomaly.report import excel

    from types import SimpleNamespace

    R = SimpleNamespace(flags=flags, members=None, findings=None, ledgers=[])

    excel.write_xlsx(R, p)
    excel.write_xlsx(R, str(tmp_path / "g.xlsx"))
    stream = io.BytesIO()
    excel.write_xlsx(R, stream)
    assert p.read_bytes() == (tmp_path / "g.xlsx").read_bytes() == stream.getvalue()


def test_xlsx_missing_openpyxl_fails_politely(monkeypatch, tmp_path):
    import builtins

    from tradeanomaly.errors import MissingExtraError
    from tradeanomaly.report import excel

    real = builtins.__import__

    def no_openpyxl(name, *a, **k):
        if name.split(".")[0] == "openpyxl":
            raise ImportError(name)
        return real(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", no_openpyxl)
    monkeypatch.delitem(__import__("sys").modules, "openpyxl", raising=False)
    assert excel.excel_available() is False
    with pytest.raises(MissingExtraError, match=r"pip install 'tradeanomaly\[excel\]'"):
        excel.workbook_bytes(pd.DataFrame(), None, None, pd.DataFrame())


def test_progress_is_off_when_quiet_or_not_a_terminal(capsys, monkeypatch):
    from tradeanomaly import cli

    monkeypatch.setattr(cli, "_stderr_is_tty", lambda: False)
    with cli.progress(False) as say:
        say("reading input ...")
        say("read 10 flows in 0.1 s")
    assert capsys.readouterr().err == ""
    monkeypatch.setattr(cli, "_stderr_is_tty", lambda: True)
    with cli.progress(True) as say:
        say("read 10 flows in 0.1 s")
    assert capsys.readouterr().err == ""
    with cli.progress(False) as say:
        say("check mirror ...")
        say("check mirror: 3 findings in 0.1 s")
    assert "check mirror: 3 findings in 0.1 s" in capsys.readouterr().err


def test_run_command_progress_never_in_output_files(runs, tmp_path):
    from click.testing import CliRunner

    from tradeanomaly.cli import main

    panel = runs[0]
    res = CliRunner().invoke(main, ["run", "--source", "canonical", str(panel), "--period", "2019-12", "--out",
                                    str(tmp_path), "--no-excel", "--previous", str(runs[2].out_dir)],
                             catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert "check " not in res.output  # not a terminal: no progress
    (d,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    assert not (d / "flags.xlsx").exists()
    html = (d / "report.html").read_text(encoding="utf-8")
    assert "check mirror" not in html and "⠋" not in html
