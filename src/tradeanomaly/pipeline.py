"""``run(config) -> RunResult``: read, check, score, rank, write. The only place that wires the stages together.

Outputs go to ``<out>/<run id>/`` and are written into a hidden temporary folder first, then moved into place
in one rename, so an interrupted run never leaves a half-written report that looks complete.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import json
import os
import platform
import shutil
import time
from pathlib import Path
from typing import Callable, Iterator

import pandas as pd

from . import __version__
from .checks.base import CheckResult
from .config import RunConfig
from .errors import ConfigError
from .result import RunResult
from .schema import Ledger, ledgers_to_json, make_findings, validate_findings
from .sources.base import file_sha256

Progress = Callable[[str], None]

# ---------------------------------------------------------------------------------------------------------------
# input
# ---------------------------------------------------------------------------------------------------------------

def _folder_digest(folder: Path) -> str:
    """Hash of a partitioned folder: every part's relative path and content hash, in sorted order."""
    h = hashlib.sha256()
    for f in sorted(p for p in folder.rglob("*") if p.is_file()):
        h.update(str(f.relative_to(folder)).encode())
        h.update(file_sha256(f).encode())
    return h.hexdigest()


def load_flows(config: RunConfig) -> tuple[pd.DataFrame, list[Ledger], list[dict]]:
    """Read the configured input with the pandas engine, or the embedded sample when no file is given."""
    from .sources import read_source

    source, files = _input_files(config)
    if source == "canonical" and len(files) == 1 and files[0].is_dir():
        from .engine import load_partitioned

        # the ingest's ledger accounts for the rows of the original files (both engines report it)
        flows, ledgers = load_partitioned(files[0])
        return flows, ledgers, _inputs(config, files)
    result = read_source(source, files, column_map=config.input.map, **config.input.options)
    return result.flows, [result.ledger], _inputs(config, files)


def _input_files(config: RunConfig) -> tuple[str, list[Path]]:
    files = [Path(f) for f in config.input.files]
    source = config.input.source
    if not files:
        from .synth import default_sample_path

        files = [Path(default_sample_path())]
        source = "canonical"
    for f in files:
        if not f.exists():
            raise ConfigError(f"input file {f} not found: check `input.files` or the FILE arguments")
    return source, files


def _inputs(config: RunConfig, files: list[Path]) -> list[dict]:
    if len(files) == 1 and files[0].is_dir():
        return [{"path": str(files[0]), "sha256": _folder_digest(files[0])}]
    inputs = [{"path": str(f), "sha256": file_sha256(f), "bytes": f.stat().st_size} for f in files if f.is_file()]
    if config.input.map:
        m = Path(config.input.map)
        inputs.append({"path": str(m), "sha256": file_sha256(m), "bytes": m.stat().st_size, "role": "map"})
    return inputs


@contextlib.contextmanager
def open_input(config: RunConfig) -> Iterator[tuple[object, list[Ledger], list[dict]]]:
    """``(executor, ledgers, inputs)``: the engine that runs the checks over the configured input.

    pandas: the flows table in this process (:class:`tradeanomaly.engine.PandasExecutor`). Dask: the flows read
    and kept on the workers of a local cluster (``engine.workers`` processes) or of the scheduler at
    ``engine.scheduler_address`` (:mod:`tradeanomaly.dask_engine`); closed when the block ends."""
    from .engine import PandasExecutor

    if config.engine.name != "dask":
        flows, ledgers, inputs = load_flows(config)
        yield PandasExecutor(flows), ledgers, inputs
        return
    from .dask_engine import open_flows
    from .engine import close_client, get_client

    source, files = _input_files(config)
    client = get_client(config.engine.workers, config.engine.scheduler_address,
                        memory_limit=config.engine.memory_limit)
    try:
        executor, ledgers = open_flows(client, source, files, column_map=config.input.map,
                                       options=config.input.options, partitions=config.engine.partitions)
        yield executor, ledgers, _inputs(config, files)
    finally:
        close_client(client)


def resolve_periods(flows, spec: str) -> list[str]:
    """Periods under test: ``latest``, ``all``, one period or a range ``A:B`` (inclusive); ``flows`` is the flows
    table or the list of its periods."""
    from .periods import normalise_period

    if isinstance(flows, pd.DataFrame):
        flows = pd.unique(flows["period"].astype(str))
    available = sorted(set(flows))
    if not available:
        raise ConfigError("the input has no rows left to analyse: see the ledger for what was set aside")
    spec = (spec or "latest").strip()
    if spec == "latest":
        # the latest period of the most frequent frequency (a stray annual row must not win)
        lengths = pd.Series([len(p) for p in available])
        common = lengths.mode().iloc[0]
        return [max(p for p in available if len(p) == common)]
    if spec == "all":
        return available
    if ":" in spec:
        a, b = (normalise_period(x) for x in spec.split(":", 1))
        if not a or not b:
            raise ConfigError(f"period range `{spec}` is not of the form 2023-01:2023-12")
        chosen = [p for p in available if a <= p <= b and len(p) == len(a)]
    else:
        p = normalise_period(spec)
        if not p:
            raise ConfigError(f"period `{spec}` is not a period (YYYY, YYYY-Qn, YYYY-MM), a range or `all`")
        chosen = [p] if p in available else []
    if not chosen:
        raise ConfigError(f"period `{spec}` is not in the data, which covers {available[0]} to {available[-1]}")
    return chosen


# ---------------------------------------------------------------------------------------------------------------
# checks
# ---------------------------------------------------------------------------------------------------------------

def validate_parameters(config: RunConfig) -> None:
    """Every check's, the scoring's and the ranking's parameters, before any input is read: an unknown or
    ill-typed setting is an error naming its section, not a traceback after the reading."""
    from . import ranking, scoring
    from .checks.registry import CHECKS
    from .config import params_from

    for check in CHECKS:
        if config.checks[check.name].enabled:
            check.params(config.checks[check.name].params)
    params_from(scoring.ScoringParams, config.scoring, "scoring")
    ranking.RankingParams.from_mapping(config.ranking)


def run_checks(flows, periods: list[str], config: RunConfig, progress: Progress = lambda m: None,
               executor=None) -> tuple[list[CheckResult], dict[str, float]]:
    """Each enabled check of the registry, run by ``executor`` (default: the pandas engine, the whole table as
    one partition; :class:`tradeanomaly.engine.DaskExecutor` for a Dask run, where ``flows`` stay on the
    workers)."""
    from .checks.base import CheckContext
    from .checks.registry import CHECKS
    from .engine import PandasExecutor

    executor = executor or PandasExecutor(flows)
    results: list[CheckResult] = []
    timings: dict[str, float] = {}
    for check in CHECKS:
        if not config.checks[check.name].enabled or getattr(check, "produced_by", None):
            continue
        context = CheckContext(periods=list(periods), params=check.params(config.checks[check.name].params),
                               seed=config.seed)
        progress(f"check {check.name} ...")
        t0 = time.perf_counter()
        res = executor.run_check(check, context)
        timings[f"check.{check.name}"] = round(time.perf_counter() - t0, 3)
        for other in CHECKS:  # findings another check computes on this one's pass, unless switched off
            if getattr(other, "produced_by", None) == check.name and not config.checks[other.name].enabled:
                res.findings = res.findings[res.findings["check"] != other.name].reset_index(drop=True)
        results.append(res)
        progress(f"check {check.name}: {len(res.findings):,} findings in {timings[f'check.{check.name}']:.1f} s")
    return results, timings


# ---------------------------------------------------------------------------------------------------------------
# run folders
# ---------------------------------------------------------------------------------------------------------------

def period_label(periods: list[str]) -> str:
    return periods[0] if len(periods) == 1 else f"{periods[0]}_{periods[-1]}"


def find_previous_run(out: Path, run_id: str, last_period: str) -> Path | None:
    """The completed run in ``out`` with the latest period before ``last_period`` (else the latest other run)."""
    candidates = []
    if not out.is_dir():
        return None
    for d in out.iterdir():
        m = d / "manifest.json"
        if d.name == run_id or d.name.startswith(".") or not m.is_file() or not (d / "flags.csv").is_file():
            continue
        try:
            man = json.loads(m.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, OSError):
            continue
        periods = man.get("periods") or [""]
        candidates.append((periods[-1] < last_period, periods[-1], man.get("finished_at", ""), d))
    if not candidates:
        return None
    earlier = [c for c in candidates if c[0]]
    pool = earlier or candidates
    return max(pool, key=lambda c: (c[1], c[2], c[3].name))[3]


def read_previous_flags(run_dir: Path | None) -> pd.DataFrame | None:
    if run_dir is None:
        return None
    from .ranking import read_flags_csv

    return read_flags_csv(run_dir / "flags.csv")


def write_atomically(final_dir: Path, writer: Callable[[Path], None]) -> None:
    """Call ``writer(tmp_dir)``, then move ``tmp_dir`` to ``final_dir`` in one rename (replacing it).

    Until the rename the outputs are in a hidden folder (``.<name>.tmp-<pid>``) that no later run or ``evaluate``
    takes for a run; a write that does not fit (full disk, ``ulimit -f``) removes it and raises one
    :class:`~tradeanomaly.paths.OutputError` naming the file and the space needed, leaving ``final_dir`` as it
    was."""
    from .paths import FULL, full_error, tree_bytes

    tmp = final_dir.parent / f".{final_dir.name}.tmp-{os.getpid()}"
    kept = (f"the earlier output in {final_dir} is unchanged" if final_dir.exists()
            else f"nothing was written to {final_dir}")
    try:
        final_dir.parent.mkdir(parents=True, exist_ok=True)
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir()
        writer(tmp)
        old = None
        if final_dir.exists():
            old = final_dir.parent / f".{final_dir.name}.old-{os.getpid()}"
            os.replace(final_dir, old)
        os.replace(tmp, final_dir)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except OSError as exc:
        written = tree_bytes(tmp)
        shutil.rmtree(tmp, ignore_errors=True)
        if exc.errno in FULL:
            raise full_error(exc, final_dir.parent, written=written, after=kept) from None
        raise
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def recover_interrupted(out: Path) -> list[str]:
    """Tidy ``out`` after runs that were killed while writing (call it holding the folder's lock, when no other
    run can be writing): a hidden ``.<name>.tmp-<pid>`` folder is an unfinished output and is removed; a hidden
    ``.<name>.old-<pid>`` folder is a complete earlier run set aside just before its replacement was moved in,
    so it is put back when ``<name>`` is missing and removed otherwise. Returns what was done, one line each."""
    done: list[str] = []
    if not out.is_dir():
        return done
    for d in sorted(out.iterdir()):
        name, sep, pid = d.name.rpartition("-")
        if not d.is_dir() or not d.name.startswith(".") or not sep or not pid.isdigit():
            continue
        if name.endswith(".tmp"):
            shutil.rmtree(d, ignore_errors=True)
            done.append(f"removed {d.name}, the unfinished output of an interrupted run")
        elif name.endswith(".old"):
            final = out / name[1:-len(".old")]
            if final.exists():
                shutil.rmtree(d, ignore_errors=True)
            else:
                os.replace(d, final)
                done.append(f"restored {final.name}, set aside by an interrupted run")
    return done


def _versions() -> dict:
    out = {"python": platform.python_version(), "tradeanomaly": __version__}
    for mod in ("pandas", "numpy", "scipy", "sklearn", "pyod", "pyarrow"):
        try:
            out[mod] = importlib.import_module(mod).__version__
        except Exception:  # pragma: no cover - optional
            out[mod] = None
    return out


# ---------------------------------------------------------------------------------------------------------------
# the run
# ---------------------------------------------------------------------------------------------------------------

def run(config: RunConfig, *, progress: Progress = lambda m: None, write: bool = True,
        previous: str | Path | None = None, excel: str = "auto") -> RunResult:
    """Run the whole analysis described by ``config``; write ``<out>/<run id>/`` unless ``write`` is false.

    ``previous`` is the run folder to compare with (default: the last run in the same output folder);
    ``excel`` says whether to write flags.xlsx (``auto``: when openpyxl is installed). While it runs it holds
    the lock of ``<out>`` (:func:`~tradeanomaly.paths.out_lock`): a second run into the same folder stops at
    once with a message instead of mixing its files with this one's."""
    if previous is not None:
        prev = Path(previous)
        if not (prev / "flags.csv").is_file():
            raise ConfigError(f"--previous {prev}: no flags.csv there; give the folder of an earlier run "
                              f"(OUT/<run id>/)")
    if excel not in ("auto", "yes", "no"):
        raise ConfigError(f"excel: {excel!r} is not one of auto, yes, no")
    if excel == "yes" and write:
        from .errors import require

        require("openpyxl", "excel", "Writing flags.xlsx")
    if not write:
        validate_parameters(config)
        return _run(config, progress, write, previous, excel)
    from .paths import check_out_dir, out_lock

    check_out_dir(config.out, "out")
    validate_parameters(config)
    with out_lock(config.out, "out"):
        for line in recover_interrupted(Path(config.out)):
            progress(line)
        return _run(config, progress, write, previous, excel)


def _run(config: RunConfig, progress: Progress, write: bool, previous: str | Path | None,
         excel: str) -> RunResult:
    started = time.time()
    timings: dict[str, float] = {}

    t0 = time.perf_counter()
    progress("reading input ...")
    with open_input(config) as (executor, ledgers, inputs):
        n_flows = executor.n_rows
        timings["read"] = round(time.perf_counter() - t0, 3)
        progress(f"read {n_flows:,} flows in {timings['read']:.1f} s")

        periods = resolve_periods(executor.periods(), config.period)
        run_id = f"{period_label(periods)}-{config.digest()}"

        results, check_timings = run_checks(None, periods, config, progress, executor=executor)
        timings.update(check_timings)
        findings = make_findings(pd.concat([r.findings for r in results], ignore_index=True)) if results \
            else make_findings()
        findings = validate_findings(findings)
        findings = findings.sort_values(["score", "check", "signal", "subject", "period"],
                                        ascending=[False, True, True, True, True], kind="mergesort")
        findings = findings.reset_index(drop=True)
        tables: dict[str, pd.DataFrame] = {}
        for r in results:
            tables.update(r.tables)
            ledgers.extend(r.ledgers)

        out_root = Path(config.out)
        if previous is not None:
            previous_dir = Path(previous)
        else:
            previous_dir = find_previous_run(out_root, run_id, periods[-1]) if write else None
        previous = read_previous_flags(previous_dir)

        t0 = time.perf_counter()
        progress("scoring and ranking ...")
        ranking_result = _score_and_rank(findings, config, previous)
        flags, members = ranking_result.flags, ranking_result.members
        timings["score_rank"] = round(time.perf_counter() - t0, 3)
        # the pandas engine: the whole table; Dask: the rows of the flagged subjects, for the charts
        flows = executor.rows_for(flags)

    result = RunResult(run_id=run_id, out_dir=(out_root / run_id) if write else None, config=config,
                       flows=flows, ledgers=ledgers, periods=periods, findings=findings, tables=tables,
                       flags=flags, members=members, previous_run=previous_dir.name if previous_dir else None,
                       inputs=inputs, excel=excel, n_flows=n_flows)
    from .report import reproduce_command

    result.manifest = {
        "tool": "tradeanomaly",
        "version": __version__,
        "run_id": run_id,
        "periods": periods,
        "config": config.model_dump(mode="json"),
        "config_digest": config.digest(),
        "inputs": inputs,
        "seeds": {"seed": config.seed},
        "rows": {"flows": int(n_flows), "findings": int(len(findings)),
                 "flags": int(len(flags)) if flags is not None else 0},
        "previous_run": result.previous_run,
        "versions": _versions(),
        "timings_s": timings,
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "reproduce": reproduce_command(out_root / run_id / "config.yaml", out_root),
    }
    if write:
        t0 = time.perf_counter()
        progress("writing reports ...")
        write_atomically(result.out_dir, lambda d: write_outputs(result, d))
        timings["write"] = round(time.perf_counter() - t0, 3)
        progress(f"wrote {result.out_dir}")
    return result


def _score_and_rank(findings: pd.DataFrame, config: RunConfig, previous: pd.DataFrame | None):
    from . import ranking, scoring

    from .config import params_from

    scores = scoring.score(findings, params=params_from(scoring.ScoringParams, config.scoring, "scoring"),
                           random_state=config.seed)
    return ranking.rank_cases(findings, scores, params=ranking.RankingParams.from_mapping(config.ranking),
                              previous_flags=previous)


def table_format(rows: int, output) -> str:
    """``csv`` or ``parquet`` for a detail table of ``rows`` rows under the ``output`` settings."""
    if output.tables != "auto":
        return output.tables
    return "parquet" if rows > output.parquet_above else "csv"


def write_table(table: pd.DataFrame, stem: Path, output) -> Path:
    """Write a detail table as ``stem.csv`` or ``stem.parquet`` (see :func:`table_format`); returns the file.

    Parquet files are written without the pandas index, with zstd compression and no creation timestamps, so the
    same table gives the same bytes."""
    if table_format(len(table), output) == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        path = stem.with_suffix(".parquet")
        arrow = pa.Table.from_pandas(table.reset_index(drop=True), preserve_index=False)
        pq.write_table(arrow, path, compression="zstd")
        return path
    from .csvsafe import protect

    path = stem.with_suffix(".csv")
    protect(table).to_csv(path, index=False, lineterminator="\n")
    return path


def write_outputs(result: RunResult, d: Path) -> None:
    """Write every output file of ``result`` into folder ``d``."""
    import yaml

    from .csvsafe import protect
    from .ranking import write_flags_csv

    flags = result.flags if result.flags is not None else pd.DataFrame()
    write_flags_csv(flags, d / "flags.csv")
    (d / "flags.json").write_text(
        json.dumps(json.loads(flags.to_json(orient="records", double_precision=10)), indent=2,
                   ensure_ascii=False) + "\n", encoding="utf-8")
    if result.members is not None:
        protect(result.members).to_csv(d / "case_members.csv", index=False, lineterminator="\n")
    protect(result.findings).to_csv(d / "findings.csv", index=False, lineterminator="\n")
    for name, table in sorted(result.tables.items()):
        if "period" in table.columns:  # detail tables cover the periods under test; history stays in the input
            table = table[table["period"].astype(str).isin(result.periods)]
        write_table(table, d / name, result.config.output)
    (d / "ledger.json").write_text(ledgers_to_json(result.ledgers), encoding="utf-8")
    (d / "config.yaml").write_text(yaml.safe_dump(result.config.model_dump(mode="json"), sort_keys=True),
                                   encoding="utf-8")
    from .report import write_reports

    write_reports(result, d, excel=result.excel)
    result.manifest["finished_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    (d / "manifest.json").write_text(json.dumps(result.manifest, indent=2, ensure_ascii=False) + "\n",
                                     encoding="utf-8")
