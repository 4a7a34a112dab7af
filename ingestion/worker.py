"""A parse worker process: each file is parsed under a time limit and a memory cap.

Parsers are third-party code fed untrusted files; a hang or a blow-up must cost one file, not
the ingest. The worker runs in its own process (spawned, so it holds no torch or Chroma state),
is killed when a file exceeds its time, and is restarted for the next file. OCR reports each
page as it finishes; the time limit then applies to each page rather than to the whole file,
so a long scan is read in full while a page that hangs still costs only its file.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
from collections.abc import Callable
from dataclasses import replace
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from assistant.errors import ParseError
from ingestion.document import ParsedDocument
from ingestion.formats.ocr import OcrDeferred, OcrOptions

logger = logging.getLogger(__name__)


def _serve(conn: Connection, memory_mb: int) -> None:
    if memory_mb:
        import resource

        limit = memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    from ingestion.parse import parse_file

    def on_page(done: int, total: int) -> None:
        conn.send(("page", (done, total)))

    while True:
        try:
            job = conn.recv()
        except (EOFError, KeyboardInterrupt):
            return
        if job is None:
            return
        path, max_bytes, keep_hidden, ocr = job
        try:
            doc = parse_file(
                Path(path),
                max_bytes=max_bytes,
                keep_hidden_text=keep_hidden,
                ocr=replace(ocr, on_page=on_page),
            )
            conn.send(("ok", doc))
        except OcrDeferred as e:
            conn.send(("ocr", e.pages))
        except ParseError as e:
            conn.send(("error", str(e)))
        except MemoryError:
            conn.send(("error", f"parsing needed more than the {memory_mb} MB memory cap"))
        except Exception as e:  # a parser bug on one hostile file must not end the ingest
            logger.debug("parser crashed on %s", path, exc_info=True)
            conn.send(("error", f"parser failed: {type(e).__name__}: {e}"))


class ParseWorker:
    """Parses one file at a time in a child process; `submit` then `result`."""

    def __init__(
        self,
        timeout_s: float,
        memory_mb: int,
        max_bytes: int,
        keep_hidden_text: bool = False,
        ocr: OcrOptions | None = None,
    ) -> None:
        self.timeout_s = timeout_s
        self.keep_hidden_text = keep_hidden_text
        self.memory_mb = memory_mb
        self.max_bytes = max_bytes
        self.ocr = replace(ocr or OcrOptions(), on_page=None)  # sent to the child: no callable
        self._ctx = mp.get_context("spawn")
        self._proc: Any = None
        self._conn: Connection | None = None
        self._busy: Path | None = None

    def _start(self) -> None:
        parent, child = self._ctx.Pipe()
        self._proc = self._ctx.Process(
            target=_serve, args=(child, self.memory_mb), daemon=True, name="techkb-parse"
        )
        self._proc.start()
        child.close()
        self._conn = parent

    def submit(self, path: Path, *, defer_ocr: bool = False) -> None:
        """Start parsing ``path``; with ``defer_ocr`` a file that needs OCR is not read but
        answered with `OcrDeferred` by `result`."""
        if self._proc is None or not self._proc.is_alive():
            self._start()
        assert self._conn is not None
        ocr = replace(self.ocr, defer=defer_ocr)
        self._conn.send((str(path), self.max_bytes, self.keep_hidden_text, ocr))
        self._busy = path

    def result(self, on_page: Callable[[int, int], None] | None = None) -> ParsedDocument:
        """The parsed document of the last submitted file.

        Args:
            on_page: called with (pages done, pages to OCR) as OCR progresses.

        Raises:
            ParseError: the file could not be parsed, took too long (on one OCR page, or in
                all for other files), or crashed the parser.
            OcrDeferred: the file needs OCR and was submitted with ``defer_ocr``.
        """
        assert self._conn is not None and self._busy is not None
        self._busy = None
        while True:
            try:
                ready = self._conn.poll(self.timeout_s)
            except (EOFError, OSError):
                ready = True
            if not ready:
                self._kill()
                raise ParseError(f"parsing took longer than the {self.timeout_s:g} s time limit")
            try:
                status, payload = self._conn.recv()
            except (EOFError, OSError) as e:
                code = self._proc.exitcode if self._proc is not None else None
                self._kill()
                raise ParseError(f"the parser process died (exit code {code})") from e
            if status != "page":
                break
            if on_page is not None:
                on_page(*payload)
        if status == "ok":
            return payload  # type: ignore[no-any-return]
        if status == "ocr":
            raise OcrDeferred(int(payload))
        raise ParseError(str(payload))

    def _kill(self) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc.join(5)
        if self._conn is not None:
            self._conn.close()
        self._proc = None
        self._conn = None

    def close(self) -> None:
        if self._proc is not None and self._proc.is_alive() and self._conn is not None:
            try:
                self._conn.send(None)
                self._proc.join(2)
            except OSError:
                pass
        self._kill()

    def __enter__(self) -> ParseWorker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
