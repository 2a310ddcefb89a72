"""HTTP for the fetch clients: one GET with retries, exponential back-off, ``Retry-After`` and a publisher's pace.

Transport is :mod:`httpx` (the optional extra ``fetch``). The library never sleeps on its own clock in tests: the
``sleep`` and ``clock`` callables are injected, so retry schedules are checked without waiting.
"""

from __future__ import annotations

import email.utils
import time
from dataclasses import dataclass, field
from typing import Callable
from urllib.parse import urlencode

from ..errors import TradeAnomalyError, require

#: HTTP statuses worth another try: rate limited, or the server failed on its side
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
#: a ``Retry-After`` longer than this is not waited out: the quota is spent, the user comes back later
MAX_RETRY_AFTER = 300.0
REDACTED = "***"


class FetchError(TradeAnomalyError):
    """A publisher's API could not give what was asked."""


class AuthError(FetchError):
    """HTTP 401/403: the key is missing, wrong or not entitled to the endpoint."""


class QuotaError(FetchError):
    """HTTP 429 after every retry (or a wait longer than is worth blocking for)."""


class EmptyResultError(FetchError):
    """The query is valid and the publisher has no record for it."""


@dataclass(frozen=True)
class Request:
    """One GET: ``url`` with ``params`` (in order) and ``headers``; ``secret`` names the params and headers that
    hold an API key (they never reach the manifest, the cache key or a printed line)."""

    name: str
    url: str
    params: tuple[tuple[str, str], ...] = ()
    headers: tuple[tuple[str, str], ...] = ()
    secret: frozenset[str] = field(default_factory=frozenset)
    suffix: str = ".json"

    def full_url(self, redact: bool = True) -> str:
        params = [(k, REDACTED if redact and k in self.secret else v) for k, v in self.params]
        return self.url + ("?" + urlencode(params, safe=",:+*[]") if params else "")

    def public_headers(self) -> dict[str, str]:
        return {k: (REDACTED if k in self.secret else v) for k, v in self.headers}

    def describe(self) -> str:
        """``GET URL`` with keys redacted, and the headers that matter (keys redacted)."""
        line = f"GET {self.full_url()}"
        heads = self.public_headers()
        if heads:
            line += "  [" + "; ".join(f"{k}: {v}" for k, v in heads.items()) + "]"
        return line

    def key(self) -> dict:
        """What identifies the request for the cache: URL, params and headers, secrets left out (a new key for
        the same query is the same request)."""
        return {"url": self.url,
                "params": [[k, v] for k, v in self.params if k not in self.secret],
                "headers": [[k, v] for k, v in self.headers if k not in self.secret]}


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes
    headers: dict[str, str]


@dataclass
class Pace:
    """At most one request every ``min_interval`` seconds (a publisher's documented rate limit)."""

    min_interval: float
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    _last: float | None = None

    def wait(self) -> None:
        if self._last is not None:
            gap = self.min_interval - (self.clock() - self._last)
            if gap > 0:
                self.sleep(gap)
        self._last = self.clock()


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """``Retry-After`` as seconds: a number of seconds, or an HTTP date (RFC 9110); ``None`` when absent or bad."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def backoff_seconds(attempt: int, base: float = 1.0, cap: float = 60.0) -> float:
    """Exponential back-off: ``base * 2**attempt`` capped at ``cap`` (attempt 0 is the first retry)."""
    return min(cap, base * 2.0 ** attempt)


class Http:
    """GET with retries on 429/5xx and transport errors, paced by :class:`Pace`.

    ``publisher`` and ``auth_hint`` go into the one-line errors: 401/403 say how to set the key, a 429 that
    outlives the retries says the quota is spent and that rerunning the command resumes.
    """

    def __init__(self, publisher: str, *, min_interval: float, auth_hint: str, retries: int = 5,
                 backoff_base: float = 1.0, timeout: float = 120.0, client=None,
                 sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic):
        self.publisher = publisher
        self.auth_hint = auth_hint
        self.retries = retries
        self.backoff_base = backoff_base
        self.timeout = timeout
        self.sleep = sleep
        self.pace = Pace(min_interval, sleep=sleep, clock=clock)
        self._client = client
        self.calls = 0

    def _httpx(self):
        if self._client is None:
            httpx = require("httpx", "fetch", "tradeanomaly fetch")
            from .. import __version__

            self._client = httpx.Client(timeout=self.timeout, follow_redirects=True,
                                        headers={"User-Agent": f"tradeanomaly/{__version__}"})
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()

    def get(self, req: Request, ok: frozenset[int] = frozenset()) -> Response:
        httpx = require("httpx", "fetch", "tradeanomaly fetch")
        client = self._httpx()
        attempt = 0
        while True:
            self.pace.wait()
            self.calls += 1
            try:
                r = client.get(req.url, params=list(req.params), headers=dict(req.headers))
            except httpx.TransportError as exc:
                if attempt >= self.retries:
                    raise FetchError(f"{self.publisher}: {req.full_url()}: no answer after {attempt + 1} tries "
                                     f"({type(exc).__name__}: {exc}); check the connection and run the same "
                                     "command again (finished requests are kept)") from None
                self.sleep(backoff_seconds(attempt, self.backoff_base))
                attempt += 1
                continue
            status = r.status_code
            if status in RETRY_STATUSES:
                wait = retry_after_seconds(r.headers.get("Retry-After"))
                if attempt >= self.retries or (wait is not None and wait > MAX_RETRY_AFTER):
                    self._raise(req, status, r.content, attempt, wait)
                self.sleep(wait if wait is not None else backoff_seconds(attempt, self.backoff_base))
                attempt += 1
                continue
            if status >= 400 and status not in ok:
                self._raise(req, status, r.content, attempt, None)
            return Response(status, r.content, {k.lower(): v for k, v in r.headers.items()})

    def _raise(self, req: Request, status: int, body: bytes, attempt: int, wait: float | None):
        where = f"{self.publisher}: {req.full_url()}"
        if status in (401, 403):
            raise AuthError(f"{where}: refused (HTTP {status}): {self.auth_hint}")
        if status == 429:
            after = (f"the server asks to wait {wait:.0f} s" if wait is not None and wait > MAX_RETRY_AFTER
                     else f"still refused after {attempt} retries")
            raise QuotaError(f"{where}: rate limit or daily quota reached (HTTP 429; {after}); wait and run the "
                             "same command again: finished requests are kept and not repeated")
        text = body[:300].decode("utf-8", "replace").strip().replace("\n", " ")
        retried = f" after {attempt} retries" if attempt else ""
        raise FetchError(f"{where}: HTTP {status}{retried}: {text or 'no message'}")
