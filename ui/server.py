"""The web application: services built once, the REST and OpenAI APIs, and the Gradio UI at /."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.middleware.cors import CORSMiddleware

from assistant.conversations import ConversationStore
from assistant.errors import ConfigError, TechkbError
from assistant.feedback import FeedbackStore
from assistant.jobs import JobQueue
from assistant.settings import Settings
from assistant.users import open_users
from ui.answer_pool import AnswerPool, reader_opener
from ui.auth import error_body, techkb_error_response
from ui.handlers import contributor_licences, contributor_names
from ui.login import SignedOutRedirect, login_router
from ui.security import GuardMiddleware, UploadClaims
from ui.services import Services
from ui.signin import SESSION_COOKIE, SignIn
from ui.uploads import IngestFn, UploadManager

logger = logging.getLogger(__name__)


def _open_store(settings: Settings) -> tuple[Any, Any, int]:
    from assistant.registry import build_assistant, build_store

    store = build_store(settings)
    return store, build_assistant(settings, store), threading.get_ident()


def build_services(
    settings: Settings,
    users_file: Path | None = None,
    *,
    ingest_factory: Callable[[Services], IngestFn] | None = None,
    supported: Iterable[str] = (),
) -> Services:
    """Open the store, the assistant, the users, the usage log and the upload manager.

    Args:
        settings: the settings (store home, upload limit...).
        users_file: the users file; None means `settings.paths.users_file`; when that is
            None too, everyone is anonymous — unless `settings.store.database_url` is set:
            users then live in that database (and a users file is refused).
        ingest_factory: builds the callable that syncs an uploads root into the store
            (None: uploads are turned off).
        supported: file suffixes ingestion reads (uploads must have one of them).

    Raises:
        ConfigError: bad users file or settings.
        StoreError: the store cannot be opened.
    """
    database_url = settings.store.database_url
    users_path = users_file or settings.paths.users_file
    if users_path is not None and not database_url and not users_path.is_file():
        raise ConfigError(f"{users_path}: users file not found (create it with `techkb users add`)")
    # With a database URL, users live in the database (a users file as well is refused).
    users = open_users(users_path, settings.paths.home, database_url)
    if users is not None:
        users.list()  # a malformed users file fails now, not at the first sign-in
    executor = ThreadPoolExecutor(1, thread_name_prefix="techkb-store")
    store, assistant, thread_id = executor.submit(_open_store, settings).result()
    holder: list[Services] = []

    def describe_org(org: str) -> dict[str, str]:
        services = holder[0]
        types = services.call(_contributor_type, services, org)
        names = services.call(contributor_names, services)
        licences = services.call(contributor_licences, services)
        return {"name": names.get(org, org), "type": types, "license": licences.get(org, "")}

    # Upload jobs: in the shared database when there is one, so that any worker runs them.
    jobs = JobQueue.open(
        settings.paths.home,
        settings.store.database_url,
        lease_s=settings.ingestion.job_lease_s,
        max_attempts=settings.ingestion.job_attempts,
    )
    uploads = UploadManager(
        settings.paths.home,
        None,
        max_bytes=int(settings.ui.max_upload_mb * 1024 * 1024),
        supported=supported,
        describe_org=describe_org,
        jobs=jobs,
        poll_s=settings.ingestion.job_poll_s,
    )
    services = Services(
        settings=settings,
        store=store,
        assistant=assistant,
        users=users,
        feedback=FeedbackStore(settings.paths.home, database_url),
        conversations=ConversationStore(settings.paths.home, database_url),
        uploads=uploads,
        answers=AnswerPool(
            reader_opener(settings, assistant),
            settings.ui.answer_workers,
            settings.ui.answer_timeout_s,
        ),
        _executor=executor,
        _store_thread=[thread_id],
    )
    holder.append(services)
    if ingest_factory is not None:
        uploads.ingest = ingest_factory(services)
        uploads.start()  # claims this worker's jobs and any other worker's
    return services


def _contributor_type(services: Services, org: str) -> str:
    for doc in services.store.catalog.documents():
        if doc.contributor == org:
            chunks = services.store.catalog.document_chunks(doc.doc_id)
            if chunks:
                return chunks[0].contributor_type
    return "unknown"


async def _techkb_error(request: Request, exc: Exception) -> JSONResponse:
    return techkb_error_response(request, exc)


def create_app(services: Services, *, ui: bool = True) -> FastAPI:
    """The FastAPI app: /api/*, /v1/*, /openapi.json, and (when `ui`) the Gradio app at /."""
    from ui.api import router as api_router
    from ui.openai_api import router as openai_router

    app = FastAPI(
        title="techkb",
        summary="Cited answers from a shared technical knowledge base.",
        version="0.1.0",
        docs_url="/api/docs",
        redoc_url=None,
    )
    app.state.services = services
    app.add_exception_handler(TechkbError, _techkb_error)

    @app.exception_handler(404)
    async def _not_found(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse(error_body(404, "not_found_error", "not found"), 404)

    @app.exception_handler(RequestValidationError)
    async def _bad_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        body = error_body(422, "invalid_request_error", problems)
        return JSONResponse({**body, "detail": jsonable_encoder(exc.errors())}, 422)

    ui_settings = services.settings.ui
    signin = SignIn(services.users, ui_settings) if services.users is not None else None
    claims = UploadClaims()
    app.state.signin = signin
    if signin is not None:
        app.include_router(login_router(signin))  # before Gradio's mount: these routes win
    app.include_router(api_router)
    app.include_router(openai_router)
    if ui:
        from ui.app import mount_ui

        mount_ui(app, services, signin=signin, claims=claims)
        if signin is not None:
            app.add_middleware(SignedOutRedirect, signin=signin)
    # Any CORSMiddleware on this app also makes Gradio's own CORS handler step aside.
    app.add_middleware(
        CORSMiddleware,
        allow_origins=list(ui_settings.allowed_origins),
        allow_credentials=True,
        allow_methods=["GET", "POST", "PUT", "DELETE"],
        allow_headers=["authorization", "content-type"],
        max_age=600,
    )
    app.add_middleware(
        GuardMiddleware,
        allowed_origins=ui_settings.allowed_origins,
        body_limit=ui_settings.max_body_kb * 1024,
        upload_limit=int(ui_settings.max_upload_mb * 1024 * 1024),
        claims=claims,
        session_cookie=SESSION_COOKIE,
    )
    return app
