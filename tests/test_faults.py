"""Faults: full disks and file size limits, runs killed at several stages, two writers on one folder, an ingest
killed and resumed. Every case ends with one clear line and leaves earlier good output as it was."""

from __future__ import annotations

import errno
import gzip
import hashlib
import os
import resource
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from tradeanomaly.cli import main
from tradeanomaly.config import load_config
from tradeanomaly.ingest import whole_is_complete
from tradeanomaly.paths import OutputError, out_lock
from tradeanomaly.pipeline import find_previous_run, recover_interrupted, run
from tradeanomaly.schema import FLOW_COLUMNS
from tradeanomaly.synth import generate

SRC = str(Path(__file__).resolve().parents[1] / "src")


def _canonical(path: Path, n: int, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    iso = np.array(["CHN", "USA", "HKG", "DEU", "NAM", "VNM", "MEX", "JPN", "FRA", "ITA"])
    r = rng.integers(0, len(iso), n)
    df = pd.DataFrame({
        "period": rng.choice(["2019", "2020", "2021"], n), "reporter": iso[r], "region": "",
        "partner": iso[(r + rng.integers(1, len(iso), n)) % len(iso)], "flow": rng.choice(["X", "M"], n),
        "hs": np.char.zfill(rng.integers(10000, 999999, n).astype(str), 6),
        "value_usd": np.round(np.exp(rng.normal(12, 2, n)), 2), "valuation": "", "quantity": "",
        "quantity_unit": "", "estimated": "false", "source": "test",
    })[list(FLOW_COLUMNS)]
    df.to_csv(path, index=False)
    return path


def _digest(folder: Path) -> dict:
    """Relative path -> SHA-256 of every visible file under ``folder``."""
    return {f.relative_to(folder).as_posix(): hashlib.sha256(f.read_bytes()).hexdigest()
            for f in sorted(folder.rglob("*")) if f.is_file() and not f.name.startswith(".")}


def _cli(args: list[str], fsize: int | None = None, wrap: list[str] | None = None) -> subprocess.CompletedProcess:
    """``python -m tradeanomaly ARGS`` in a child, with a file size limit of ``fsize`` bytes (``ulimit -f``)."""
    env = dict(os.environ, PYTHONPATH=SRC + os.pathsep + os.environ.get("PYTHONPATH", ""))

    def limit():
        if fsize is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))

    cmd = (wrap or []) + [sys.executable, "-m", "tradeanomaly", *args]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, preexec_fn=limit, timeout=600)


def _one_clear_line(proc: subprocess.CompletedProcess, *words: str) -> str:
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("Error:")]
    assert len(lines) == 1, proc.stderr[-2000:]
    for w in words:
        assert w in lines[0], lines[0]
    return lines[0]


# ---------------------------------------------------------------------------------------------------------------
# ingest: a full disk, a size limit, a fault while writing the second file
# ---------------------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    d = tmp_path_factory.mktemp("inputs")
    return _canonical(d / "small.csv", 300, seed=1), _canonical(d / "big.csv", 60_000, seed=2)


def test_ingest_past_a_file_size_limit_keeps_the_earlier_output(inputs, tmp_path):
    small, big = inputs
    out = tmp_path / "out"
    assert _cli(["ingest", str(small), "--out", str(out)]).returncode == 0
    before = _digest(out)
    assert whole_is_complete(out) and sorted(before) == ["flows.parquet", "ingest.json", "ledger.json"]
    line = _one_clear_line(_cli(["ingest", str(big), "--out", str(out)], fsize=200_000),
                           "file size limit of 200.0 kB (ulimit -f)", str(out), "it needs ",
                           "the earlier output in", "is unchanged")
    value, unit = line.split("it needs ")[1].split(":")[0].split()
    assert float(value) * {"kB": 1e3, "MB": 1e6}[unit] > 200_000  # 60,000 rows do not fit in 200 kB
    assert _digest(out) == before and whole_is_complete(out)
    assert sorted(p.name for p in out.iterdir()) == [".tradeanomaly.lock", *before]  # no temporary file left


def test_ingest_into_a_full_filesystem_keeps_the_earlier_output(inputs, tmp_path):
    """A real full disk: a 400 kB tmpfs in a private mount namespace (skipped where the machine forbids it)."""
    if shutil.which("unshare") is None:
        pytest.skip("unshare is not installed: no private tmpfs for a full-disk test")
    probe = subprocess.run(["unshare", "-rm", "sh", "-c", f"mount -t tmpfs -o size=64k tmpfs {tmp_path}"],
                           capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({probe.stderr.strip()}): the size-limit test covers the path")
    small, big = inputs
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    script = (f"mount -t tmpfs -o size=400k tmpfs {mnt} && "
              f"{sys.executable} -m tradeanomaly ingest {small} --out {mnt}/out && "
              f"sha256sum {mnt}/out/flows.parquet {mnt}/out/ledger.json && "
              f"{sys.executable} -m tradeanomaly ingest {big} --out {mnt}/out; echo rc=$?; "
              f"sha256sum {mnt}/out/flows.parquet {mnt}/out/ledger.json; ls -a {mnt}/out")
    env = dict(os.environ, PYTHONPATH=SRC + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run(["unshare", "-rm", "sh", "-c", script], capture_output=True, text=True, env=env,
                          timeout=600)
    out = proc.stdout.splitlines()
    assert "rc=1" in out, proc.stdout + proc.stderr
    sums = [ln for ln in out if "/out/" in ln and len(ln.split()[0]) == 64]
    assert len(sums) == 4 and sums[:2] == sums[2:]  # both files as the first ingest wrote them
    err = [ln for ln in proc.stderr.splitlines() if ln.startswith("Error:")]
    assert len(err) == 1 and "no space left on the device" in err[0] and "it needs " in err[0]
    assert "the earlier output in" in err[0] and "Traceback" not in proc.stderr
    assert not [ln for ln in out if ".tmp-" in ln]


def test_a_fault_on_the_second_file_writes_neither(inputs, tmp_path, monkeypatch):
    small, big = inputs
    out = tmp_path / "out"
    assert CliRunner().invoke(main, ["ingest", str(small), "--out", str(out)]).exit_code == 0
    before = _digest(out)
    real = Path.write_bytes

    def fail_on_ledger(self, data):
        if "ledger.json" in self.name:
            real(self, data[: len(data) // 2])
            raise OSError(errno.ENOSPC, "No space left on device", str(self))
        return real(self, data)

    monkeypatch.setattr(Path, "write_bytes", fail_on_ledger)
    res = CliRunner().invoke(main, ["ingest", str(big), "--out", str(out)])
    assert res.exit_code == 1 and "no space left on the device" in res.output and res.exception is not None
    assert "Traceback" not in res.output and len(res.output.strip().splitlines()) == 1
    assert _digest(out) == before and whole_is_complete(out)
    assert not [p for p in out.iterdir() if ".tmp-" in p.name]


# ---------------------------------------------------------------------------------------------------------------
# runs: a size limit, killed at several stages, killed while writing, two at once
# ---------------------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def panel(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("panel") / "flows.csv.gz"
    with gzip.open(path, "wt", encoding="utf-8", newline="") as fh:
        generate(seed=3, months=36).flows.to_csv(fh, index=False)
    return path


def _config(panel: Path, out: Path, period: str):
    return load_config(overrides={"input": {"source": "canonical", "files": [str(panel)]}, "out": str(out),
                                  "period": period}, environ={})


@pytest.fixture(scope="module")
def earlier(panel, tmp_path_factory):
    """A folder with one complete run (2019-11), copied by each test that damages it."""
    out = tmp_path_factory.mktemp("reports")
    first = run(_config(panel, out, "2019-11"))
    return out, first.run_id


def _copy(earlier, tmp_path) -> Path:
    out = tmp_path / "reports"
    shutil.copytree(earlier[0], out)
    return out


def test_run_past_a_file_size_limit_keeps_the_earlier_run(panel, earlier, tmp_path):
    out = _copy(earlier, tmp_path)
    before = _digest(out)
    proc = _cli(["run", str(panel), "--period", "2019-12", "--out", str(out), "-q"], fsize=30_000)
    _one_clear_line(proc, "file size limit", "(ulimit -f)", "it needs more than", "nothing was written to")
    assert _digest(out) == before
    assert sorted(p.name for p in out.iterdir()) == [".tradeanomaly.lock", earlier[1]]


@pytest.mark.parametrize("stage", ["run_checks", "_score_and_rank", "write_reports"])
def test_a_run_stopped_at_a_stage_leaves_no_folder_taken_as_complete(panel, earlier, tmp_path, monkeypatch,
                                                                     stage):
    import tradeanomaly.pipeline as pl
    import tradeanomaly.report as report

    def stop(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(report if stage == "write_reports" else pl, stage, stop)
    out = _copy(earlier, tmp_path)
    before = _digest(out)
    with pytest.raises(KeyboardInterrupt):
        run(_config(panel, out, "2019-12"))
    assert _digest(out) == before and sorted(p.name for p in out.iterdir()) == [".tradeanomaly.lock", earlier[1]]
    assert find_previous_run(out, "another", "2020-01") == out / earlier[1]


def test_a_run_killed_while_writing_leaves_a_hidden_folder_the_next_run_removes(panel, earlier, tmp_path):
    out = _copy(earlier, tmp_path)
    env = dict(os.environ, PYTHONPATH=SRC + os.pathsep + os.environ.get("PYTHONPATH", ""))
    child = subprocess.Popen([sys.executable, "-m", "tradeanomaly", "run", str(panel), "--period", "2019-12",
                              "--out", str(out), "-q"], env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 500
    try:
        while time.monotonic() < deadline and child.poll() is None:
            tmp = [p for p in out.iterdir() if ".tmp-" in p.name]
            if tmp and any(tmp[0].iterdir()):  # writing has started
                child.send_signal(signal.SIGKILL)
                break
            time.sleep(0.02)
    finally:
        if child.poll() is None:
            child.kill()
        child.wait()
    if child.returncode != -signal.SIGKILL:
        pytest.skip("the run finished before it could be killed while writing")
    left = sorted(p.name for p in out.iterdir())
    assert len(left) == 3 and left[0].startswith(".2019-12-") and ".tmp-" in left[0]
    # the half-written folder is not a run: the earlier one is still the previous run
    assert find_previous_run(out, "another", "2020-01") == out / earlier[1]
    with out_lock(out):
        done = recover_interrupted(out)
    assert len(done) == 1 and "interrupted run" in done[0]
    assert sorted(p.name for p in out.iterdir()) == [".tradeanomaly.lock", earlier[1]]


def test_a_run_killed_between_the_renames_gets_its_earlier_folder_back(tmp_path):
    out = tmp_path / "reports"
    (out / ".2019-11-abc.old-4242").mkdir(parents=True)
    (out / ".2019-11-abc.old-4242" / "flags.csv").write_text("a,b\n")
    (out / ".2019-12-abc.tmp-4242").mkdir()
    done = recover_interrupted(out)
    assert sorted(p.name for p in out.iterdir()) == ["2019-11-abc"] and len(done) == 2
    assert (out / "2019-11-abc" / "flags.csv").read_text() == "a,b\n"


def test_two_writers_on_one_folder(inputs, panel, tmp_path):
    small, _ = inputs
    out = tmp_path / "out"
    with out_lock(out):  # another command holds the folder (the lock is per open file, so this works in-process)
        res = CliRunner().invoke(main, ["ingest", str(small), "--out", str(out)])
        assert res.exit_code == 1 and f"{out} is being written by tradeanomaly pid {os.getpid()}" in res.output
        res = CliRunner().invoke(main, ["ingest", "--partitioned", str(small), "--out", str(out)])
        assert res.exit_code == 1 and "is being written by" in res.output
        with pytest.raises(OutputError, match="wait for it to finish or choose another output folder"):
            run(_config(panel, out, "2019-12"))
    assert not out.exists()  # nothing written by the refused commands, and the folder the lock made is gone
    assert CliRunner().invoke(main, ["ingest", str(small), "--out", str(out)]).exit_code == 0  # released


def test_a_killed_partitioned_ingest_resumes_to_the_same_parts(tmp_path):
    src = _canonical(tmp_path / "flows.csv", 120_000, seed=5)
    ref = tmp_path / "ref"
    assert _cli(["ingest", "--partitioned", "--chunk-rows", "10000", "-q", str(src), "--out", str(ref)]
                ).returncode == 0
    out = tmp_path / "out"
    env = dict(os.environ, PYTHONPATH=SRC + os.pathsep + os.environ.get("PYTHONPATH", ""))
    child = subprocess.Popen([sys.executable, "-m", "tradeanomaly", "ingest", "--partitioned", "--chunk-rows",
                              "10000", "-q", str(src), "--out", str(out)], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while child.poll() is None:
            if len(list((out / "_ingested").glob("*.chunk-*.json"))) >= 3:
                child.send_signal(signal.SIGKILL)
                break
            time.sleep(0.01)
    finally:
        if child.poll() is None:
            child.kill()
        child.wait()
    if child.returncode != -signal.SIGKILL:
        pytest.skip("the ingest finished before it could be killed")
    assert not (out / "ledger.json").exists()
    proc = _cli(["ingest", "--partitioned", "--chunk-rows", "10000", str(src), "--out", str(out)])
    # progress lines go to a terminal only; the summary on stdout says the file was resumed
    assert proc.returncode == 0 and "(1 resumed)" in proc.stdout, proc.stdout + proc.stderr
    assert _digest(out) == _digest(ref) and len(_digest(ref)) > 12
