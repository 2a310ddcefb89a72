"""``tradeanomaly fetch``: download publishers' tables into a folder that ``tradeanomaly run FOLDER`` reads.

One client per publisher builds a :class:`Plan` (the query, its pages as :class:`~.http.Request` s, the reader that
reads the result, the publisher's pace); :func:`fetch` runs it into a :class:`~.store.Folder`: each page is
requested once (a page already complete in the folder is not requested again), saved as the publisher sent it,
counted, and once every page is in, the manifest is written. See :mod:`.store` for the folder layout.

The clients call the publishers' documented endpoints with :mod:`httpx` (the optional extra ``fetch``):
``comtradeapicall`` returns a DataFrame, prints and returns ``None`` on errors and does not expose the raw
response or the HTTP status, which the cache, the manifest and the error messages need.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from .http import AuthError, EmptyResultError, FetchError, Http, QuotaError, Request, Response  # noqa: F401
from .store import Folder, reader_input  # noqa: F401

#: (done, total, page name) after each page
Progress = Callable[[int, int, str], None]


@dataclass
class Plan:
    """What one fetch asks for and how its result is read.

    ``count(request, response) -> (records, note)`` checks a response body (raises :class:`FetchError` on an
    error document) and counts its records; ``finish(folder, requests, pages) -> (reader files, options)`` (``pages`` the completion records) writes the
    derived files, if any, and names what the reader reads; ``warn(request, records)`` returns a warning when a
    page hit the endpoint's record limit.
    """

    publisher: str
    query: dict
    requests: list[Request]
    source: str
    min_interval: float
    auth_hint: str
    count: Callable[[Request, Response], tuple[int, str]]
    finish: Callable[[Path, list[Request], list[dict]], tuple[list[str], dict]]
    warn: Callable[[Request, int], str | None] = lambda req, n: None
    empty_hint: str = "check the codes and the period"
    #: HTTP statuses that mean "no record" for this publisher (handed to ``count``, not raised)
    empty_statuses: frozenset[int] = frozenset()
    notes: list[str] = field(default_factory=list)


@dataclass
class FetchResult:
    out_dir: Path
    manifest: dict
    requested: int  # HTTP calls made (0 when every page was already in the folder)
    cached: int  # pages taken from the folder
    warnings: list[str]


def utc_now() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def fetch(plan: Plan, out, *, client=None, progress: Progress | None = None,
          sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic,
          retries: int = 5, now: Callable[[], str] = utc_now) -> FetchResult:
    """Run ``plan`` into folder ``out``; ``client`` is an ``httpx.Client`` (tests pass one with a mock transport)."""
    folder = Folder(Path(out), plan.query)
    folder.open()
    http = Http(plan.publisher, min_interval=plan.min_interval, auth_hint=plan.auth_hint, retries=retries,
                client=client, sleep=sleep, clock=clock)
    pages, warnings, cached = [], list(plan.notes), 0
    total = len(plan.requests)
    try:
        for i, req in enumerate(plan.requests):
            rec = folder.done(req)
            if rec is not None:
                cached += 1
            else:
                resp = http.get(req, ok=plan.empty_statuses)
                records, note = plan.count(req, resp)
                rec = folder.save(req, resp.body, resp.status, records, now(), note)
            msg = plan.warn(req, rec["records"])
            if msg:
                warnings.append(msg)
            pages.append(rec)
            if progress is not None:
                progress(i + 1, total, req.name)
    finally:
        if client is None:
            http.close()
    if not sum(p["records"] for p in pages):
        raise EmptyResultError(f"{plan.publisher}: no records for this query ({len(pages)} requests answered, "
                               f"all empty): {plan.empty_hint}")
    files, options = plan.finish(folder.root, plan.requests, pages)
    reader = {"source": plan.source, "files": files, "options": options}
    manifest = folder.write_manifest(publisher=plan.publisher, pages=pages, reader=reader, warnings=warnings,
                                     fetched_at=now())
    return FetchResult(folder.root, manifest, http.calls, cached, warnings)


def default_out(plan: Plan, base="fetched") -> Path:
    """``fetched/<publisher>-<12 hex of the query>``: the same query lands in the same folder, so it is cached."""
    from .store import query_hash

    return Path(base) / f"{plan.publisher}-{query_hash(plan.query)[:12]}"
