"""The fetched folder: raw responses, completion records, the manifest; cache and resume.

Layout::

    OUT/raw/<page>.<json|xml>     each response as the publisher sent it
    OUT/<derived files>           the responses rendered in a layout a reader reads, when the raw one is not
    OUT/.fetch/query.json         the query this folder holds (another query is refused)
    OUT/.fetch/<page>.done.json   a page's completion record: request key, sha256, bytes, records
    OUT/manifest.json             written last: query, time, versions, sha256 of every file, the reader to use

A response is written under a hidden ``.part`` name and renamed once complete; its completion record is written
after it. A page counts as done only when its record exists, names the same request and the file's sha256
matches, so a killed fetch continues with the pages it had not finished and a half-written file is never taken
for a response. The same query into the same folder makes no request at all (the folder is the cache).
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from ..errors import ConfigError, SourceFormatError
from ..sources.base import file_sha256
from .http import Request

MANIFEST = "manifest.json"
KIND = "tradeanomaly-fetch"
STATE_DIR = ".fetch"
RAW_DIR = "raw"


def canonical_json(obj) -> str:
    return json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def request_hash(req: Request) -> str:
    return hashlib.sha256(canonical_json(req.key()).encode()).hexdigest()


def query_hash(query: dict) -> str:
    return hashlib.sha256(canonical_json(query).encode()).hexdigest()


def atomic_write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name("." + path.name + ".part")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def atomic_write_json(path: Path, obj) -> None:
    atomic_write_bytes(path, (json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode())


def versions(packages=("tradeanomaly", "httpx")) -> dict[str, str]:
    out = {"python": platform.python_version()}
    for p in packages:
        try:
            out[p] = metadata.version(p)
        except metadata.PackageNotFoundError:
            out[p] = ""
    return out


@dataclass
class Folder:
    """A fetch output folder for one query."""

    root: Path
    query: dict

    @property
    def state(self) -> Path:
        return self.root / STATE_DIR

    def raw_path(self, req: Request) -> Path:
        return self.root / RAW_DIR / f"{req.name}{req.suffix}"

    def open(self) -> None:
        """Create the folder, or check that it holds this query (a folder of another query is refused)."""
        qfile = self.state / "query.json"
        if qfile.exists():
            held = json.loads(qfile.read_text(encoding="utf-8"))
            if held.get("query") != self.query:
                raise ConfigError(f"--out {self.root}: the folder holds another fetch ({canonical_json(held.get('query'))}); "
                                  "choose another folder for this query")
        else:
            if (self.root / MANIFEST).exists():
                raise ConfigError(f"--out {self.root}: the folder holds a manifest.json that is not a fetch of "
                                  "this query; choose an empty folder")
            atomic_write_json(qfile, {"kind": KIND, "query": self.query})

    def _done_path(self, req: Request) -> Path:
        return self.state / f"{req.name}.done.json"

    def done(self, req: Request) -> dict | None:
        """The completion record of ``req`` when its response is complete and intact, else ``None``."""
        rec_path = self._done_path(req)
        raw = self.raw_path(req)
        if not rec_path.exists() or not raw.exists():
            return None
        try:
            rec = json.loads(rec_path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError):
            return None
        if rec.get("request") != request_hash(req) or rec.get("sha256") != file_sha256(raw):
            return None
        return rec

    def save(self, req: Request, body: bytes, status: int, records: int, fetched_at: str, note: str = "") -> dict:
        raw = self.raw_path(req)
        atomic_write_bytes(raw, body)
        rec = {"request": request_hash(req), "url": req.full_url(), "file": raw.relative_to(self.root).as_posix(),
               "sha256": hashlib.sha256(body).hexdigest(), "bytes": len(body), "status": status,
               "records": records, "fetched_at": fetched_at, "note": note}
        atomic_write_json(self._done_path(req), rec)
        return rec

    def write_manifest(self, *, publisher: str, pages: list[dict], reader: dict, warnings: list[str],
                       fetched_at: str, extra_versions=()) -> dict:
        files = {}
        for p in sorted(self.root.rglob("*")):
            rel = p.relative_to(self.root).as_posix()
            if p.is_file() and not rel.startswith(STATE_DIR + "/") and rel != MANIFEST \
                    and not p.name.endswith(".part"):
                files[rel] = file_sha256(p)
        manifest = {
            "kind": KIND,
            "publisher": publisher,
            "query": self.query,
            "fetched_at": fetched_at,
            "versions": versions(("tradeanomaly", "httpx", *extra_versions)),
            "requests": pages,
            "records": sum(p["records"] for p in pages),
            "files": files,
            "reader": reader,
            "warnings": warnings,
        }
        atomic_write_json(self.root / MANIFEST, manifest)
        return manifest


def read_manifest(folder) -> dict | None:
    """The fetch manifest of ``folder``, or ``None`` when the folder is not a fetched folder.

    A folder with fetch state and no manifest is an unfinished fetch: an error that says to rerun the fetch.
    """
    folder = Path(folder)
    path = folder / MANIFEST
    if not path.exists():
        if (folder / STATE_DIR / "query.json").exists():
            raise SourceFormatError("the fetch into this folder did not finish (no manifest.json): run the same "
                                    "`tradeanomaly fetch` command again to complete it", path=folder)
        return None
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SourceFormatError(f"manifest.json is not valid JSON ({exc})", path=folder) from None
    if not isinstance(manifest, dict) or manifest.get("kind") != KIND:
        return None
    return manifest


def reader_input(folder) -> dict | None:
    """``{"source", "files", "options"}`` to read a fetched folder, from its manifest; ``None`` when ``folder`` is
    not one. Every file the reader is given is checked against the manifest's sha256 first."""
    folder = Path(folder)
    manifest = read_manifest(folder)
    if manifest is None:
        return None
    reader = manifest.get("reader") or {}
    files = []
    for rel in reader.get("files", []):
        p = folder / rel
        want = manifest.get("files", {}).get(rel)
        if not p.exists():
            raise SourceFormatError(f"{rel} is listed in manifest.json and missing: fetch again", path=folder)
        if want is not None and file_sha256(p) != want:
            raise SourceFormatError(f"{rel} differs from the sha256 in manifest.json (the file was changed after "
                                    "the fetch): fetch again into an empty folder", path=folder)
        files.append(str(p))
    if not files:
        raise SourceFormatError("manifest.json names no file to read", path=folder)
    return {"source": reader["source"], "files": files, "options": dict(reader.get("options") or {})}
