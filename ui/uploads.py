"""Contributor uploads: checked, kept in the jobs database, ingested by a job.

All uploads form ONE ingest root, `<home>/uploads`, with a folder per org (the folder name is
the contributor, as everywhere) and a `contributors.yaml` that declares every org that has
uploaded. The files themselves live in the jobs database (`assistant.upload_files`), so that
every worker, whatever its home, brings its own uploads folder up to date from there before it
syncs it (under the catalog key `uploads:`, the same on every host). A sync of that root only
removes files that are gone from it, so deleting or replacing one org's file never touches
another org's. An upload queues a job (`assistant.jobs`); this process's claimer thread, or any
other worker's, runs it through the `ingest` callable the composition root passes in (ui/ does
not import ingestion/).
"""

from __future__ import annotations

import logging
import re
import threading
import unicodedata
import zipfile
from collections.abc import Callable, Iterable
from io import BytesIO
from pathlib import Path
from typing import Any

import yaml

from assistant.errors import NotFoundError, PayloadTooLargeError, ValidationError
from assistant.job_worker import IngestFn, JobWorker, Progress, run_ingest_job
from assistant.jobs import Job, JobQueue, Outcome
from assistant.types import KINDS, ROLES, VISIBILITIES
from assistant.upload_files import CONTRIBUTORS_FILE, SIDECAR_SUFFIX, UPLOADS_DIR

logger = logging.getLogger(__name__)

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

__all__ = ["IngestFn", "UploadManager", "safe_filename", "sniff"]


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


class UploadManager:
    """Stores uploaded documents (in the jobs database, and in this home's uploads folder) and
    queues their ingestion as jobs that this or any other worker runs (`assistant.jobs`)."""

    def __init__(
        self,
        home: Path,
        ingest: IngestFn | None,
        *,
        max_bytes: int,
        supported: Iterable[str],
        describe_org: Callable[[str], dict[str, str]] | None = None,
        jobs: JobQueue | None = None,
        poll_s: float = 1.0,
    ) -> None:
        """Args:
        home: the store home; files go under `<home>/uploads/<org>/`.
        ingest: syncs one root into the store and returns the ingest report dict, called as
            `ingest(root, key=..., progress=...)` (`assistant.jobs.IngestFn`; None: uploads
            are refused and no job is run here, e.g. a read-only deployment).
        max_bytes: largest accepted file.
        supported: file suffixes ingestion reads.
        describe_org: org id -> {"name", "type", "license"} (its default licence, "" for none).
        jobs: the job queue (None: the SQLite one in `home`).
        poll_s: how often the job claimer looks for jobs queued elsewhere.

        Raises:
            StoreError: the jobs database cannot be opened.
        """
        self.home = home
        self.root = home / UPLOADS_DIR
        self.ingest = ingest
        self.max_bytes = max_bytes
        self.supported = frozenset(supported)
        self.describe_org = describe_org or (lambda org: {"name": org, "type": "unknown"})
        self.jobs = jobs if jobs is not None else JobQueue.open(home, None)
        self.jobs.files.adopt(self.root)
        self._poll_s = poll_s
        self._worker: JobWorker | None = None
        self._lock = threading.Lock()

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

    def _org_entry(self, org: str) -> dict[str, Any]:
        """The `contributors.yaml` entry an org gets with its first upload."""
        info = self.describe_org(org)
        return {
            "id": org,
            "name": info.get("name") or org,
            "type": info.get("type") or "unknown",
            # Fail closed: a document without its own visibility stays inside the org.
            "visibility": "org",
        }

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
        """Check and keep one document and its sidecar; returns its source (`org/name`).

        Raises:
            PayloadTooLargeError: over the size limit.
            ValidationError: bad name, type, content or metadata.
            StoreError: the jobs database cannot be written.
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
        source = f"{org}/{name}"
        sidecar = yaml.safe_dump(meta, sort_keys=True, allow_unicode=True)
        with self._lock:
            self.jobs.files.put_file(source, data, sidecar, self._org_entry(org))
            self.jobs.files.materialise(self.root)
        return source

    def remove(self, source: str) -> None:
        """Delete an uploaded file and its sidecar (from the database and this home).

        Raises:
            NotFoundError: no such uploaded file.
            StoreError: the jobs database cannot be written.
        """
        path = self.path_of(source)
        with self._lock:
            if not self.jobs.files.remove_file(source) and not path.is_file():
                raise NotFoundError(f"no uploaded document {source!r}")
            self.jobs.files.materialise(self.root)

    # -- jobs -----------------------------------------------------------------------------------
    def start(self) -> None:
        """Start claiming and running jobs in a thread (nothing when uploads are off)."""
        if self.ingest is None:
            return
        with self._lock:
            if self._worker is None:
                self._worker = JobWorker(self.jobs, self._run, poll_s=self._poll_s)
            self._worker.start()

    def _run(self, job: Job, progress: Progress) -> Outcome:
        assert self.ingest is not None
        return run_ingest_job(self.jobs, self.home, self.ingest, job, progress)

    def submit(self, org: str, user: str | None, source: str) -> str:
        """Queue a sync of the uploads root for this source; returns the job id."""
        job_id = self.jobs.enqueue(
            "uploads", org=org, user=user, source=source, message="waiting for earlier uploads"
        )
        self.start()
        if self._worker is not None:
            self._worker.wake()
        return job_id

    def job(self, job_id: str) -> Job:
        """Raises NotFoundError for an unknown job."""
        return self.jobs.get(job_id)

    def wait(self, job_id: str, timeout: float = 600.0) -> Job:
        """Block until the job is done or failed (or the timeout passes)."""
        return self.jobs.wait(job_id, timeout)

    def close(self) -> None:
        """Stop claiming jobs (after the running one, waiting a few seconds for it)."""
        if self._worker is not None:
            self._worker.stop()
