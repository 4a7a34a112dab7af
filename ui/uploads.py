"""Contributor uploads: checked, stored under `<home>/uploads/<org>/`, ingested in the background.

All uploads form ONE ingest root, `<home>/uploads`, with a folder per org (the folder name is
the contributor, as everywhere) and a `contributors.yaml` that declares every org that has
uploaded. A sync of that root only removes files that are gone from it, so deleting or
replacing one org's file never touches another org's. Jobs run one at a time in a worker
thread through the `ingest` callable the composition root passes in (ui/ does not import
ingestion/).
"""

from __future__ import annotations

import logging
import os
import queue
import re
import tempfile
import threading
import time
import unicodedata
import uuid
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path
from typing import Any

import yaml

from assistant.errors import NotFoundError, PayloadTooLargeError, TechkbError, ValidationError
from assistant.types import KINDS, ROLES, VISIBILITIES

logger = logging.getLogger(__name__)

UPLOADS_DIR = "uploads"
SIDECAR_SUFFIX = ".meta.yaml"
CONTRIBUTORS_FILE = "contributors.yaml"
# What the OOXML formats must contain besides being a zip.
_OOXML_PART = {".docx": "word/", ".pptx": "ppt/", ".xlsx": "xl/"}
# The signatures an image must start with (read by OCR, docs/ocr.md).
_IMAGE_MAGIC = {
    ".png": (b"\x89PNG\r\n\x1a\n",),
    ".jpg": (b"\xff\xd8\xff",),
    ".jpeg": (b"\xff\xd8\xff",),
    ".tif": (b"II*\x00", b"MM\x00*"),
    ".tiff": (b"II*\x00", b"MM\x00*"),
}
_SAFE_NAME = re.compile(r"^[\w][\w .()+-]{0,150}$")

IngestFn = Callable[[Path], dict[str, Any]]


def safe_filename(filename: str) -> str:
    """The file's base name if it is safe to store, else a ValidationError.

    No folders, no `..`, no hidden files, no control characters, no sidecar names.

    Raises:
        ValidationError: the name is unsafe; the message says why.
    """
    name = unicodedata.normalize("NFC", filename or "").strip()
    if not name or "/" in name or "\\" in name or "\x00" in name:
        raise ValidationError(f"file name {filename!r}: no folders allowed, give a plain name")
    if name.startswith(".") or name in (".", ".."):
        raise ValidationError(f"file name {filename!r}: hidden files are not accepted")
    if not _SAFE_NAME.match(name) or name.endswith(SIDECAR_SUFFIX) or name == CONTRIBUTORS_FILE:
        raise ValidationError(f"file name {filename!r}: use letters, digits, space, . _ - ( ) +")
    return name


def sniff(name: str, data: bytes, supported: Iterable[str]) -> None:
    """Check the extension is one ingestion reads AND the bytes look like that format.

    Raises:
        ValidationError: unsupported extension or content that does not match it.
    """
    suffix = Path(name).suffix.lower()
    allowed = sorted(s for s in supported if s)
    if suffix not in allowed:
        raise ValidationError(f"{name}: unsupported file type {suffix or '(none)'!r}; {allowed}")
    if not data:
        raise ValidationError(f"{name}: the file is empty")
    if suffix == ".pdf":
        if not data[:1024].lstrip().startswith(b"%PDF-"):
            raise ValidationError(f"{name}: not a PDF (no %PDF- header)")
        return
    if suffix in _IMAGE_MAGIC:
        if not data.startswith(_IMAGE_MAGIC[suffix]):
            raise ValidationError(f"{name}: not a {suffix} image (wrong signature)")
        return
    if suffix in _OOXML_PART:
        try:
            with zipfile.ZipFile(BytesIO(data)) as zf:
                names = zf.namelist()
        except zipfile.BadZipFile as e:
            raise ValidationError(f"{name}: not a {suffix} file (not a zip archive)") from e
        part = _OOXML_PART[suffix]
        if "[Content_Types].xml" not in names or not any(n.startswith(part) for n in names):
            raise ValidationError(f"{name}: not a {suffix} file (no {part} part)")
        return
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ValidationError(f"{name}: a {suffix} file must be UTF-8 text") from e
    if "\x00" in text:
        raise ValidationError(f"{name}: binary content under a text name")


@dataclass
class UploadJob:
    """One upload's way through the queue (states: queued, running, done, failed)."""

    job_id: str
    org: str
    user: str | None
    source: str
    state: str = "queued"
    progress: float = 0.0
    message: str = "waiting for earlier uploads"
    errors: list[dict[str, str]] = field(default_factory=list)
    created: float = field(default_factory=time.time)

    def to_dict(self) -> dict[str, Any]:
        return {
            "job_id": self.job_id,
            "state": self.state,
            "progress": self.progress,
            "message": self.message,
            "errors": list(self.errors),
            "source": self.source,
            "org": self.org,
        }


def _atomic_write(path: Path, data: bytes) -> None:
    """Write through a hidden temp file (ingestion skips hidden files) and rename."""
    fd, tmp = tempfile.mkstemp(prefix=".upload-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class UploadManager:
    """Stores uploaded documents and ingests them one job at a time in a worker thread."""

    def __init__(
        self,
        home: Path,
        ingest: IngestFn | None,
        *,
        max_bytes: int,
        supported: Iterable[str],
        describe_org: Callable[[str], dict[str, str]] | None = None,
    ) -> None:
        """Args:
        home: the store home; files go under `<home>/uploads/<org>/`.
        ingest: syncs one root into the store and returns the ingest report dict
            (None: uploads are refused, e.g. a read-only deployment).
        max_bytes: largest accepted file.
        supported: file suffixes ingestion reads.
        describe_org: org id -> {"name", "type", "license"} (its default licence, "" for none).
        """
        self.root = home / UPLOADS_DIR
        self.ingest = ingest
        self.max_bytes = max_bytes
        self.supported = frozenset(supported)
        self.describe_org = describe_org or (lambda org: {"name": org, "type": "unknown"})
        self._jobs: dict[str, UploadJob] = {}
        self._lock = threading.Lock()
        self._queue: queue.Queue[UploadJob | None] = queue.Queue()
        self._worker: threading.Thread | None = None

    # -- files ----------------------------------------------------------------------------------
    def path_of(self, source: str) -> Path:
        """The stored file of `<org>/<name>`, refusing anything that leaves the uploads root.

        Raises:
            NotFoundError: the source is not a plain `<org>/<file>` inside the root.
        """
        parts = source.split("/")
        if len(parts) != 2 or any(p in ("", ".", "..") or p.startswith(".") for p in parts):
            raise NotFoundError(f"no uploaded document {source!r}")
        path = (self.root / parts[0] / parts[1]).resolve()
        if not path.is_relative_to(self.root.resolve()):
            raise NotFoundError(f"no uploaded document {source!r}")
        return path

    def _declare(self, org: str) -> None:
        """Make sure `contributors.yaml` of the uploads root declares `org`."""
        path = self.root / CONTRIBUTORS_FILE
        data = yaml.safe_load(path.read_text(encoding="utf-8")) if path.is_file() else None
        entries = list((data or {}).get("contributors") or [])
        if any(e.get("id") == org for e in entries):
            return
        info = self.describe_org(org)
        entries.append(
            {
                "id": org,
                "name": info.get("name") or org,
                "type": info.get("type") or "unknown",
                # Fail closed: a document without its own visibility stays inside the org.
                "visibility": "org",
            }
        )
        text = "# Orgs that uploaded documents through techkb serve.\n"
        text += yaml.safe_dump({"contributors": entries}, sort_keys=False, allow_unicode=True)
        _atomic_write(path, text.encode("utf-8"))

    def store(
        self,
        org: str,
        filename: str,
        data: bytes,
        *,
        kind: str,
        visibility: str,
        allowed_roles: list[str] | None = None,
        edition: str | None = None,
        license: str | None = None,
    ) -> str:
        """Check and write one document and its sidecar; returns its source (`org/name`).

        Raises:
            PayloadTooLargeError: over the size limit.
            ValidationError: bad name, type, content or metadata.
        """
        if len(data) > self.max_bytes:
            raise PayloadTooLargeError(
                f"{filename}: {len(data) / 1e6:.1f} MB is over the "
                f"{self.max_bytes / 1e6:.1f} MB upload limit"
            )
        if self.ingest is None:
            raise ValidationError("uploads are turned off on this server")
        name = safe_filename(filename)
        sniff(name, data, self.supported)
        meta: dict[str, Any] = {"kind": kind, "visibility": visibility}
        if kind not in KINDS:
            raise ValidationError(f"kind {kind!r}: one of {', '.join(KINDS)}")
        if visibility not in VISIBILITIES:
            raise ValidationError(f"visibility {visibility!r}: one of {', '.join(VISIBILITIES)}")
        if license is None or not str(license).strip():
            # The org's own default (its contributors.yaml), written down with the document.
            license = self.describe_org(org).get("license") or None
        roles = [r for r in allowed_roles or [] if r]
        bad = [r for r in roles if r not in ROLES]
        if bad:
            raise ValidationError(f"allowed_roles {bad}: roles are {', '.join(ROLES)}")
        if roles:
            meta["allowed_roles"] = roles
        for key, value in (("edition", edition), ("license", license)):
            if value is not None and str(value).strip():
                if len(str(value)) > 200 or "\n" in str(value):
                    raise ValidationError(f"{key}: one line, at most 200 characters")
                meta[key] = str(value).strip()
        folder = self.root / org
        with self._lock:
            folder.mkdir(parents=True, exist_ok=True)
            self._declare(org)
            sidecar = yaml.safe_dump(meta, sort_keys=True, allow_unicode=True).encode("utf-8")
            _atomic_write(folder / (name + SIDECAR_SUFFIX), sidecar)
            _atomic_write(folder / name, data)
        return f"{org}/{name}"

    def remove(self, source: str) -> None:
        """Delete an uploaded file and its sidecar.

        Raises:
            NotFoundError: no such uploaded file.
        """
        path = self.path_of(source)
        if not path.is_file():
            raise NotFoundError(f"no uploaded document {source!r}")
        with self._lock:
            path.unlink()
            path.with_name(path.name + SIDECAR_SUFFIX).unlink(missing_ok=True)

    # -- jobs -----------------------------------------------------------------------------------
    def submit(self, org: str, user: str | None, source: str) -> str:
        """Queue a sync of the uploads root for this source; returns the job id."""
        job = UploadJob(uuid.uuid4().hex, org, user, source)
        with self._lock:
            self._jobs[job.job_id] = job
            if self._worker is None or not self._worker.is_alive():
                self._worker = threading.Thread(
                    target=self._run, name="techkb-uploads", daemon=True
                )
                self._worker.start()
        self._queue.put(job)
        return job.job_id

    def job(self, job_id: str) -> UploadJob:
        """Raises NotFoundError for an unknown job."""
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None:
            raise NotFoundError(f"no upload job {job_id!r}")
        return job

    def wait(self, job_id: str, timeout: float = 600.0) -> UploadJob:
        """Block until the job is done or failed (or the timeout passes)."""
        deadline = time.monotonic() + timeout
        job = self.job(job_id)
        while job.state in ("queued", "running") and time.monotonic() < deadline:
            time.sleep(0.1)
        return job

    def _run(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            self._execute(job)

    def _execute(self, job: UploadJob) -> None:
        job.state, job.progress, job.message = "running", 0.1, "parsing and embedding"
        assert self.ingest is not None
        try:
            report = self.ingest(self.root)
        except TechkbError as e:
            job.state, job.message = "failed", str(e)
            job.errors = [{"source": job.source, "error": str(e)}]
        except Exception as e:  # a worker thread must survive any one job
            logger.exception("upload job %s failed", job.job_id)
            job.state, job.message = "failed", f"internal error: {type(e).__name__}"
            job.errors = [{"source": job.source, "error": job.message}]
        else:
            mine = [f for f in report.get("failed", []) if f.get("source") == job.source]
            job.errors = mine
            if mine:
                job.state, job.message = "failed", mine[0].get("error", "failed")
            else:
                job.state = "done"
                job.message = (
                    f"added {report.get('added', 0)}, updated {report.get('updated', 0)}, "
                    f"removed {report.get('removed', 0)}"
                )
        job.progress = 1.0

    def close(self) -> None:
        """Stop the worker after the queued jobs."""
        if self._worker is not None and self._worker.is_alive():
            self._queue.put(None)
            self._worker.join(timeout=5)
