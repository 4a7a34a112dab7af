"""The REST API under /api/: thin routes over `ui.handlers` (see ui/auth.py for who is who)."""

from __future__ import annotations

import csv
import io
import logging
import re
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Query, Request, Response, UploadFile
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field

from assistant.errors import AccessError, NotFoundError, PayloadTooLargeError
from assistant.types import Identity
from ui import conversations as convs
from ui import handlers
from ui.auth import identity_from_request, require_identity
from ui.documents import latest_eval
from ui.services import Services

logger = logging.getLogger(__name__)
router = APIRouter(prefix="/api", tags=["techkb"])
Caller = Annotated[Identity, Depends(identity_from_request)]
Writer = Annotated[Identity, Depends(require_identity)]
_PLOT = re.compile(r"^[A-Za-z0-9_-]{1,80}$")


def _services(request: Request) -> Services:
    return request.app.state.services  # type: ignore[no-any-return]


class Message(BaseModel):
    role: str = Field(description="user | assistant")
    content: str


class AskRequest(BaseModel):
    question: str = Field(description="The question (the last user turn).")
    history: list[Message] = Field(default_factory=list, description="Earlier turns.")
    mode: str = Field(default="ask", description="ask | procedure | exercise")


class FeedbackRequest(BaseModel):
    answer_id: str
    rating: int = Field(description="+1 or -1")
    comment: str = ""


@router.get("/health")
def health() -> dict[str, str]:
    """Liveness check."""
    return {"status": "ok"}


@router.get("/me")
def me(identity: Caller) -> dict[str, Any]:
    """Who the API thinks the caller is."""
    return {
        "user": identity.user,
        "org": identity.org,
        "role": identity.role,
        "anonymous": identity.anonymous,
    }


@router.post("/ask")
def ask(body: AskRequest, request: Request, identity: Caller) -> dict[str, Any]:
    """A cited answer (modes ask, procedure, exercise), logged with an answer_id to rate."""
    history = [m.model_dump() for m in body.history]
    return handlers.ask(_services(request), identity, body.question, history, body.mode)


@router.get("/sources/{chunk_id}")
def source(chunk_id: str, request: Request, identity: Caller, quote: str = "") -> dict[str, Any]:
    """The source card of a cited chunk (404 when unknown or not visible to the caller)."""
    return handlers.source_card(_services(request), identity, chunk_id, quote)


@router.post("/feedback", status_code=204)
def feedback(body: FeedbackRequest, request: Request, identity: Writer) -> Response:
    """Rate an answer you were given."""
    handlers.give_feedback(_services(request), identity, body.answer_id, body.rating, body.comment)
    return Response(status_code=204)


@router.get("/conversations")
def conversations(request: Request, identity: Writer) -> list[dict[str, Any]]:
    """Your conversations in the web app, most recent first (id, title, times, turns)."""
    return convs.list_conversations(_services(request), identity)


@router.get("/conversations/{conversation_id}")
def conversation(conversation_id: str, request: Request, identity: Writer) -> dict[str, Any]:
    """One of your conversations with its turns (404 for anybody else's)."""
    return convs.open_conversation(_services(request), identity, conversation_id)


@router.delete("/conversations/{conversation_id}", status_code=204)
def delete_conversation(conversation_id: str, request: Request, identity: Writer) -> Response:
    """Delete one of your conversations."""
    convs.delete_conversation(_services(request), identity, conversation_id)
    return Response(status_code=204)


@router.get("/documents")
def documents(request: Request, identity: Caller) -> list[dict[str, Any]]:
    """Documents the caller manages (own org; admin all; others an empty list)."""
    return handlers.list_documents(_services(request), identity)


async def _read_limited(request: Request, file: UploadFile) -> bytes:
    limit = _services(request).uploads.max_bytes
    data = await file.read(limit + 1)
    if len(data) > limit:
        raise PayloadTooLargeError(f"{file.filename}: over the {limit / 1e6:.1f} MB upload limit")
    return data


def _roles(raw: str | None) -> list[str] | None:
    if raw is None:
        return None
    return [r.strip() for r in raw.split(",") if r.strip()]


@router.post("/documents", status_code=202)
async def upload(
    request: Request,
    identity: Writer,
    file: Annotated[UploadFile, File(description="The document.")],
    kind: Annotated[str, Form()] = "other",
    visibility: Annotated[str, Form()] = "org",
    allowed_roles: Annotated[str | None, Form(description="Comma-separated roles.")] = None,
    edition: Annotated[str | None, Form()] = None,
    license: Annotated[str | None, Form()] = None,
    org: Annotated[str | None, Form(description="Admins: the org it is for.")] = None,
) -> dict[str, str]:
    """Upload (or replace, same file name) a document for your org; ingested in background."""
    _check_content_length(request)
    data = await _read_limited(request, file)
    from starlette.concurrency import run_in_threadpool

    job_id = await run_in_threadpool(
        handlers.start_upload,
        _services(request),
        identity,
        file.filename or "",
        data,
        kind=kind,
        visibility=visibility,
        allowed_roles=_roles(allowed_roles),
        edition=edition,
        license=license,
        org=org,
    )
    return {"job_id": job_id}


@router.put("/documents/{doc_id}", status_code=202)
async def replace(
    doc_id: str,
    request: Request,
    identity: Writer,
    file: Annotated[UploadFile, File(description="The new content.")],
    kind: Annotated[str | None, Form()] = None,
    visibility: Annotated[str | None, Form()] = None,
    allowed_roles: Annotated[str | None, Form()] = None,
    edition: Annotated[str | None, Form()] = None,
    license: Annotated[str | None, Form()] = None,
) -> dict[str, str]:
    """Replace an uploaded document's content (metadata kept unless given)."""
    _check_content_length(request)
    data = await _read_limited(request, file)
    from starlette.concurrency import run_in_threadpool

    job_id = await run_in_threadpool(
        handlers.replace_document,
        _services(request),
        identity,
        doc_id,
        data,
        kind=kind,
        visibility=visibility,
        allowed_roles=_roles(allowed_roles),
        edition=edition,
        license=license,
    )
    return {"job_id": job_id}


def _check_content_length(request: Request) -> None:
    limit = _services(request).uploads.max_bytes
    length = request.headers.get("content-length")
    # Multipart framing adds a little; refuse early only what is clearly too big.
    if length and length.isdigit() and int(length) > limit + 64 * 1024:
        raise PayloadTooLargeError(f"request of {int(length)} bytes is over the upload limit")


@router.delete("/documents/{doc_id}", status_code=204)
def delete(doc_id: str, request: Request, identity: Writer) -> Response:
    """Delete an uploaded document of your org (file, vectors, keyword index, catalog)."""
    handlers.delete_document(_services(request), identity, doc_id)
    return Response(status_code=204)


@router.get("/uploads/{job_id}")
def upload_status(job_id: str, request: Request, identity: Writer) -> dict[str, Any]:
    """State, progress and per-file errors of an upload job of your org."""
    return handlers.upload_status(_services(request), identity, job_id)


@router.get("/ledger", response_model=None)
def ledger(
    request: Request,
    identity: Caller,
    format: Annotated[str, Query(pattern="^(json|csv)$")] = "json",
) -> list[dict[str, Any]] | Response:
    """Citations, answers and ratings per contributor (admin all; staff/teacher own org)."""
    rows = handlers.ledger(_services(request), identity)
    if format == "json":
        return rows
    out = io.StringIO()
    writer = csv.DictWriter(out, ["contributor", "citations", "answers", "up", "down"])
    writer.writeheader()
    writer.writerows(rows)
    return Response(out.getvalue(), media_type="text/csv")


@router.get("/dashboard")
def dashboard(request: Request, identity: Caller) -> dict[str, Any]:
    """Documents, citations, ratings and knowledge gaps in the caller's area."""
    data = handlers.dashboard(_services(request), identity)
    if data.get("eval"):
        data["eval"] = _eval_public(data["eval"])
    return data


def _eval_public(report: dict[str, Any]) -> dict[str, Any]:
    """Plot file paths become API URLs."""
    plots = {name: f"/api/evals/latest/plots/{name}.png" for name in report["plots"]}
    return {"summary": report["summary"], "plots": plots}


def _admin(identity: Identity) -> None:
    if identity.role != "admin":
        raise AccessError("eval reports are for admins")


@router.get("/evals/latest")
def eval_latest(request: Request, identity: Caller) -> dict[str, Any]:
    """Summary and plot URLs of the latest `techkb eval` report (admins only)."""
    _admin(identity)
    report = latest_eval(_services(request).settings.paths.home)
    if report is None:
        raise NotFoundError("no eval report yet: run `techkb eval`")
    return _eval_public(report)


@router.get("/evals/latest/plots/{name}.png")
def eval_plot(name: str, request: Request, identity: Caller) -> FileResponse:
    """One plot of the latest eval report; names come from the report's own listing."""
    _admin(identity)
    report = latest_eval(_services(request).settings.paths.home)
    if report is None or not _PLOT.match(name) or name not in report["plots"]:
        raise NotFoundError(f"no plot {name!r}")
    return FileResponse(report["plots"][name], media_type="image/png")
