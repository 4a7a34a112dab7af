"""`techkb ingest`: sync folders into the store, idempotent by content hash."""

from __future__ import annotations

import hashlib
import logging
import os
import stat
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from assistant.errors import IngestError, MetadataError, ParseError
from assistant.interfaces import Embedder
from assistant.language import detect_language
from assistant.settings import IngestionSettings
from assistant.store import KnowledgeStore
from assistant.types import Chunk
from ingestion.chunk import chunk_document, embedding_text
from ingestion.document import ParsedDocument
from ingestion.formats.base import normalize_space
from ingestion.formats.ocr import OcrDeferred, OcrOptions
from ingestion.metadata import (
    CONTRIBUTORS_FILE,
    SIDECAR_SUFFIX,
    Contributor,
    front_matter_metadata,
    load_contributors,
    read_sidecar,
    resolve_metadata,
)
from ingestion.worker import ParseWorker

logger = logging.getLogger(__name__)
# Bump when parsing or chunking changes, so that every document is re-ingested once.
PIPELINE_VERSION = "3"  # 2: unnumbered list items marked "- " in chunk text; 3: slide bullets


@dataclass
class IngestReport:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    failed: list[dict[str, str]] = field(default_factory=list)
    flagged: list[dict[str, str]] = field(default_factory=list)
    chunks: int = 0
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "removed": self.removed,
            "failed": self.failed,
            "flagged": self.flagged,
            "chunks": self.chunks,
            "seconds": round(self.seconds, 3),
        }


@dataclass(frozen=True)
class _Candidate:
    path: Path
    source: str
    doc_id: str
    fingerprint: str
    existing: bool


def _sha256_file(path: Path) -> str:
    """The file's SHA-256.

    Raises:
        ParseError: not a regular file (a named pipe would block the ingest forever on open).
    """
    digest = hashlib.sha256()
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
            raise ParseError("not a regular file (a pipe, socket or device)")
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _walk(root: Path, report: IngestReport) -> Iterator[Path]:
    """Document files under root, hidden and metadata files skipped, escaping links reported."""
    real_root = root.resolve()
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        here = Path(dirpath)
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for d in list(dirnames):
            if (here / d).is_symlink():
                dirnames.remove(d)
                target = (here / d).resolve()
                if not target.is_relative_to(real_root):
                    src = (here / d).relative_to(root).as_posix()
                    report.failed.append(
                        {"source": src, "error": "symlink points outside the root"}
                    )
        for name in sorted(filenames):
            if name.startswith(".") or name.endswith(SIDECAR_SUFFIX):
                continue
            if here == root and name == CONTRIBUTORS_FILE:
                continue
            path = here / name
            if path.is_symlink() and not path.resolve().is_relative_to(real_root):
                src = path.relative_to(root).as_posix()
                report.failed.append({"source": src, "error": "symlink points outside the root"})
                continue
            yield path


class Ingester:
    """Syncs roots into one store; parse in a worker process, embed here."""

    def __init__(
        self,
        store: KnowledgeStore,
        embedder: Embedder,
        settings: IngestionSettings,
        progress: bool = True,
        multilingual: Embedder | None = None,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.multilingual = multilingual
        self.settings = settings
        self.progress = progress

    def ingest(
        self,
        roots: list[Path],
        keys: list[str | None] | None = None,
        progress: Callable[[float, str], None] | None = None,
    ) -> IngestReport:
        """Sync every root into the store and return what changed.

        Args:
            roots: the folders to sync.
            keys: each root's key in the catalog (None: its resolved path, as the CLI does).
                A document's id derives from its root's key and its source, so a root that
                several hosts hold in different places (the uploads root) gets the same key
                on each. Documents recorded under the root's path before it had a key are
                dropped and ingested again under the key.
            progress: called with (fraction of the changed files done, message) after each.

        Raises:
            IngestError: a root does not exist or is not a folder.
            StoreError: the store cannot be written.
        """
        started = time.perf_counter()
        report = IngestReport()
        for root in roots:
            if not root.is_dir():
                raise IngestError(f"{root}: not a folder")
        named = keys if keys is not None else [None] * len(roots)
        root_keys = [key or str(root.resolve()) for root, key in zip(roots, named, strict=True)]
        self.store.check_embedder(
            self.embedder.name, self.multilingual.name if self.multilingual else None
        )
        repaired = self._repair(set(root_keys))
        plans = []
        for root, key in zip(roots, root_keys, strict=True):
            plan = self._plan(root, key, report, repaired)
            if plan is not None:
                plans.append(plan)
        todo = [
            (root, key, contributors, c) for root, key, contributors, cands in plans for c in cands
        ]
        self._process(todo, report, progress)
        self.store.keyword_index()
        report.chunks = self.store.catalog.count_chunks()
        report.seconds = time.perf_counter() - started
        return report

    def _repair(self, root_keys: set[str]) -> set[str]:
        """Drop what an interrupted ingest of these roots left half-written (pending
        documents, their vectors); returns their ids. Other roots' pending documents may be
        another worker's, in flight: they are left alone. The caller makes sure nobody else
        syncs these roots now (`assistant.jobs.JobQueue.root_lock` for jobs)."""
        repaired = set()
        for doc in self.store.catalog.pending():
            if doc.root not in root_keys:
                continue
            logger.warning("repairing %s left pending by an interrupted ingest", doc.source)
            for index in (self.store.vectors, self.store.ml_vectors):
                index.delete_document(doc.doc_id)
            self.store.catalog.remove_document(doc.doc_id)
            repaired.add(doc.doc_id)
        return repaired

    def _plan(
        self, root: Path, root_key: str, report: IngestReport, repaired: set[str]
    ) -> tuple[Path, str, dict[str, Contributor], list[_Candidate]] | None:
        legacy = str(root.resolve())
        if root_key != legacy:
            for doc in self.store.catalog.documents(legacy):
                self.store.remove_document(doc.doc_id)
                report.removed += 1
        try:
            contributors = load_contributors(root, self.settings.default_visibility)
        except MetadataError as e:
            report.failed.append({"source": CONTRIBUTORS_FILE, "error": str(e)})
            return None
        known = {d.source: d for d in self.store.catalog.documents(root_key)}
        seen: set[str] = set()
        todo: list[_Candidate] = []
        max_bytes = int(self.settings.max_file_mb * 1024 * 1024)
        for path in _walk(root, report):
            source = path.relative_to(root).as_posix()
            seen.add(source)
            try:
                size = path.stat().st_size
                if size > max_bytes:
                    limit = self.settings.max_file_mb
                    raise ParseError(f"file is {size / 1e6:.1f} MB, over the {limit:g} MB limit")
                fingerprint = self._fingerprint(path, source, contributors)
            except (OSError, ParseError) as e:
                report.failed.append({"source": source, "error": str(e)})
                continue
            doc_id = hashlib.sha256(f"{root_key}\x1f{source}".encode()).hexdigest()[:24]
            old = known.get(source)
            if old and old.status == "complete" and old.sha256 == fingerprint:
                report.unchanged += 1
                continue
            existing = old is not None or doc_id in repaired
            todo.append(_Candidate(path, source, doc_id, fingerprint, existing))
        for source, doc in known.items():
            if source not in seen:
                self.store.remove_document(doc.doc_id)
                report.removed += 1
        return root, root_key, contributors, todo

    def _fingerprint(self, path: Path, source: str, contributors: dict[str, Contributor]) -> str:
        """Hash of everything that decides a document's chunks: bytes, sidecar, contributor."""
        digest = hashlib.sha256(_sha256_file(path).encode())
        sidecar = path.with_name(path.name + SIDECAR_SUFFIX)
        if sidecar.is_file():
            digest.update(sidecar.read_bytes())
        top = source.split("/", 1)[0]
        digest.update(repr(contributors.get(top)).encode())
        s = self.settings
        digest.update(
            f"{PIPELINE_VERSION}|{s.chunk_max_tokens}|{s.chunk_min_tokens}|{s.use_hidden_text}|"
            f"{s.default_visibility}|{s.ocr}|{s.ocr_dpi}|{s.ocr_min_confidence}".encode()
        )
        return digest.hexdigest()

    def _process(
        self,
        todo: list[tuple[Path, str, dict[str, Contributor], _Candidate]],
        report: IngestReport,
        progress: Callable[[float, str], None] | None = None,
    ) -> None:
        """Parse and store every file; files that need OCR go last, so that a long scan holds up
        no other file, and their pages count in a progress bar of their own."""
        if not todo:
            return
        from tqdm import tqdm

        files_bar = tqdm(total=len(todo), desc="files", unit="file", disable=not self.progress)
        chunks_bar = tqdm(desc="embedded", unit="chunk", disable=not self.progress)
        pages_bar = tqdm(desc="OCR", unit="page", total=0, disable=True)  # shown once needed
        s = self.settings
        worker = ParseWorker(
            s.parse_timeout_s,
            s.parse_memory_mb,
            int(s.max_file_mb * 1024 * 1024),
            keep_hidden_text=s.use_hidden_text,
            ocr=OcrOptions(s.ocr, s.ocr_dpi, s.ocr_min_confidence),
        )

        def on_page(done: int, total: int) -> None:
            pages_bar.update(1)

        deferred: list[tuple[Path, str, dict[str, Contributor], _Candidate]] = []
        finished = 0
        with worker:
            for ocr_pass, batch in ((False, todo), (True, deferred)):
                if not batch:
                    continue
                worker.submit(batch[0][3].path, defer_ocr=not ocr_pass)
                for i, (root, key, contributors, cand) in enumerate(batch):
                    try:
                        parsed: ParsedDocument | None = worker.result(on_page)
                        error = None
                    except OcrDeferred as e:
                        deferred.append((root, key, contributors, cand))
                        if pages_bar.disable and self.progress:
                            pages_bar = tqdm(desc="OCR", unit="page", total=0)
                        pages_bar.total += e.pages
                        parsed = error = None
                    except ParseError as e:
                        parsed, error = None, str(e)
                    if i + 1 < len(batch):
                        worker.submit(batch[i + 1][3].path, defer_ocr=not ocr_pass)
                    if parsed is None and error is None:
                        continue  # read by OCR in the second pass
                    files_bar.set_postfix_str(cand.source[-40:])
                    self._finish(root, key, contributors, cand, parsed, error, report, chunks_bar)
                    files_bar.update(1)
                    finished += 1
                    if progress is not None:
                        progress(finished / len(todo), f"{finished}/{len(todo)}: {cand.source}")
        files_bar.close()
        chunks_bar.close()
        pages_bar.close()

    def _finish(
        self,
        root: Path,
        root_key: str,
        contributors: dict[str, Contributor],
        cand: _Candidate,
        parsed: ParsedDocument | None,
        error: str | None,
        report: IngestReport,
        chunks_bar: Any,
    ) -> None:
        if parsed is not None:
            try:
                stored = self._store_document(root, root_key, contributors, cand, parsed, report)
                chunks_bar.update(stored)
            except (MetadataError, ParseError) as e:
                error = str(e)
        if error is not None:
            report.failed.append({"source": cand.source, "error": error})
        elif cand.existing:
            report.updated += 1
        else:
            report.added += 1

    def _store_document(
        self,
        root: Path,
        root_key: str,
        contributors: dict[str, Contributor],
        cand: _Candidate,
        parsed: ParsedDocument,
        report: IngestReport,
    ) -> int:
        # Messages name files relative to the root: reports reach uploaders, not the server.
        overrides = front_matter_metadata(parsed.front_matter, f"{cand.source} (front matter)")
        sidecar = cand.path.with_name(cand.path.name + SIDECAR_SUFFIX)
        if sidecar.is_file():
            overrides.update(read_sidecar(cand.path, cand.source + SIDECAR_SUFFIX))
        meta = resolve_metadata(
            cand.source,
            root.resolve().name,
            contributors,
            overrides,
            self.settings.default_visibility,
        )
        if parsed.hidden_text_flagged:
            report.flagged.append({"source": cand.source, "reason": "hidden text removed"})
        for warning in parsed.warnings:  # OCR pages below the confidence floor, by page
            report.flagged.append({"source": cand.source, "reason": warning})
        # A declared title (sidecar, front matter) may hold line breaks; a title is one line.
        title = normalize_space(meta.title or "") or parsed.title or cand.path.stem
        drafts = chunk_document(
            replace(parsed, title=title),
            count_tokens=self.embedder.count_tokens,
            max_tokens=self.settings.chunk_max_tokens,
            min_tokens=self.settings.chunk_min_tokens,
        )
        if not drafts:
            raise ParseError("no text found in the document")
        language = meta.language or detect_language(" ".join(d.text for d in drafts[:5]))
        chunks = [
            Chunk(
                chunk_id=f"{cand.doc_id}-{d.chunk_index:04d}",
                doc_id=cand.doc_id,
                text=d.text,
                source=cand.source,
                title=title,
                section=d.section,
                chunk_index=d.chunk_index,
                content_sha256=hashlib.sha256(d.text.encode("utf-8")).hexdigest(),
                contributor=meta.contributor,
                contributor_type=meta.contributor_type,
                kind=meta.kind,
                visibility=meta.visibility,
                license=meta.license,
                page=d.page,
                allowed_roles=meta.allowed_roles,
                edition=meta.edition,
                effective_date=meta.effective_date,
                language=language,
                hidden_text=parsed.hidden_text_flagged,
                ocr_confidence=parsed.ocr_confidence.get(d.page) if d.page is not None else None,
            )
            for d in drafts
        ]
        texts = [embedding_text(title, d) for d in drafts]
        vectors = self.embedder.embed_documents(texts)
        ml_vectors = self.multilingual.embed_documents(texts) if self.multilingual else None
        self.store.begin_document(cand.doc_id, root_key, cand.source, cand.fingerprint)
        self.store.write_document(cand.doc_id, title, meta.contributor, chunks, vectors, ml_vectors)
        return len(chunks)
