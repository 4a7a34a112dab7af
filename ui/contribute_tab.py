"""The Contribute tab: upload documents for one's own organisation, follow the ingestion,
list, replace and delete one's documents."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import gradio as gr

from assistant.errors import AccessError, NotFoundError, TechkbError
from assistant.types import KINDS, ROLES, VISIBILITIES
from ui import handlers
from ui.i18n import t, text
from ui.render import (
    column_labels,
    document_choices,
    jobs_finished,
    jobs_html,
    records_rows,
)
from ui.web_support import UiContext, error_message, take_upload, ui_errors

logger = logging.getLogger(__name__)
DOCUMENT_COLUMNS = (
    "title",
    "source",
    "contributor",
    "kind",
    "visibility",
    "allowed_roles",
    "edition",
    "license",
    "chunks",
)
POLL_SECONDS = 1.0


def build_contribute_tab(ctx: UiContext) -> tuple[gr.Tab, list[Any], Any]:
    """Lay out the Contribute tab (hidden until the page load shows it to contributors).

    Returns:
        The tab, the components the page load refreshes, and the refresh function.
    """
    with gr.Tab(
        t("tab_contribute"), id="contribute", visible=False, elem_id="techkb-tab-contribute"
    ) as tab:
        gr.Markdown(f"### {t('upload_title')}")
        with gr.Row():
            files = gr.File(
                label=t("upload_files"),
                file_count="multiple",
                type="filepath",
                elem_id="techkb-upload-files",
            )
            with gr.Column():
                kind = gr.Dropdown(list(KINDS), value="other", label=t("kind"))
                visibility = gr.Radio(
                    list(VISIBILITIES),
                    value="org",
                    label=t("visibility"),
                    elem_id="techkb-upload-visibility",
                )
                roles = gr.CheckboxGroup(list(ROLES), value=[], label=t("allowed_roles"))
        with gr.Row():
            edition = gr.Textbox(label=t("edition"), max_lines=1)
            license_ = gr.Textbox(label=t("license"), max_lines=1)
            org = gr.Textbox(label=t("upload_org"), max_lines=1, visible=False)
        upload = gr.Button(t("upload"), variant="primary", elem_id="techkb-upload")
        gr.Markdown(f"#### {t('upload_progress')}")
        progress = gr.HTML(elem_id="techkb-upload-progress")
        gr.Markdown(f"### {t('my_documents')}")
        documents = gr.Dataframe(
            headers=list(DOCUMENT_COLUMNS),
            interactive=False,
            wrap=True,
            elem_id="techkb-documents",
        )
        with gr.Row():
            chosen = gr.Dropdown(choices=[], label=t("select_document"), scale=3)
            refresh = gr.Button(t("refresh"), scale=1)
        with gr.Row():
            replace = gr.Button(t("replace"), elem_id="techkb-replace")
            delete = gr.Button(t("delete"), variant="stop", elem_id="techkb-delete")
        # Inside the tab: gr.Tabs may hold nothing but tabs.
        jobs = gr.State([])
        timer = gr.Timer(POLL_SECONDS, active=False)

    def list_docs(request: gr.Request) -> tuple[Any, Any]:
        lang = ctx.lang(request)
        with ui_errors(lang):
            docs = handlers.list_documents(ctx.services, ctx.identity(request))
        rows = records_rows(docs, DOCUMENT_COLUMNS)
        return (
            gr.Dataframe(value=rows, headers=column_labels(DOCUMENT_COLUMNS, lang)),
            gr.Dropdown(choices=document_choices(docs), value=None),
        )

    def start(
        paths: list[str] | None,
        kind_value: str,
        visibility_value: str,
        roles_value: list[str],
        edition_value: str,
        license_value: str,
        org_value: str,
        known: list[dict[str, Any]],
        request: gr.Request,
    ) -> tuple[Any, ...]:
        lang = ctx.lang(request)
        identity = ctx.identity(request)
        if not ctx.may_contribute(identity):
            raise gr.Error(text("contribute_refused", lang))
        if not paths:
            raise gr.Error(text("no_files", lang))
        known = list(known or [])
        for path in paths:
            try:
                name, data = take_upload(ctx, request, path)
            except AccessError:
                known.append(_failed(Path(path).name, text("upload_not_yours", lang)))
                continue
            try:
                job_id = handlers.start_upload(
                    ctx.services,
                    identity,
                    name,
                    data,
                    kind=kind_value,
                    visibility=visibility_value,
                    allowed_roles=list(roles_value) or None,
                    edition=(edition_value or "").strip() or None,
                    license=(license_value or "").strip() or None,
                    org=(org_value or "").strip() or None,  # admins only; others: own org
                )
            except TechkbError as e:  # one bad file must not stop the others
                known.append(_failed(name, error_message(e, lang)))
                continue
            known.append({"job_id": job_id, "filename": name, "state": "queued", "progress": 0})
        return known, jobs_html(known, lang), gr.Timer(active=True), None

    def replace_doc(
        paths: list[str] | None,
        doc_id: str | None,
        known: list[dict[str, Any]],
        request: gr.Request,
    ) -> tuple[Any, ...]:
        lang = ctx.lang(request)
        if not ctx.may_contribute(ctx.identity(request)):
            raise gr.Error(text("contribute_refused", lang))
        if not doc_id:
            raise gr.Error(text("select_first", lang))
        if not paths:
            raise gr.Error(text("no_files", lang))
        with ui_errors(lang):
            name, data = take_upload(ctx, request, paths[0])
            job_id = handlers.replace_document(ctx.services, ctx.identity(request), doc_id, data)
        known = [
            *(known or []),
            {"job_id": job_id, "filename": name, "state": "queued", "progress": 0},
        ]
        return known, jobs_html(known, lang), gr.Timer(active=True), None

    def poll(known: list[dict[str, Any]], request: gr.Request) -> tuple[Any, ...]:
        lang = ctx.lang(request)
        identity = ctx.identity(request)
        updated = []
        for job in known or []:
            if job.get("job_id") and job.get("state") not in ("done", "failed"):
                try:
                    status = handlers.upload_status(ctx.services, identity, job["job_id"])
                except NotFoundError as e:
                    status = _failed(job.get("filename", ""), error_message(e, lang))
                job = {**job, **status, "filename": job.get("filename", "")}
            updated.append(job)
        finished = jobs_finished(updated)
        docs_update: tuple[Any, Any] = (gr.skip(), gr.skip())
        if finished and any(j.get("state") == "done" for j in updated):
            docs_update = list_docs(request)
        return (updated, jobs_html(updated, lang), gr.Timer(active=not finished), *docs_update)

    def delete_doc(doc_id: str | None, request: gr.Request) -> tuple[Any, Any]:
        lang = ctx.lang(request)
        if not doc_id:
            raise gr.Error(text("select_first", lang))
        with ui_errors(lang):
            handlers.delete_document(ctx.services, ctx.identity(request), doc_id)
        gr.Info(text("deleted", lang))
        return list_docs(request)

    upload.click(
        start,
        [files, kind, visibility, roles, edition, license_, org, jobs],
        [jobs, progress, timer, files],
        api_visibility="private",
    )
    replace.click(
        replace_doc, [files, chosen, jobs], [jobs, progress, timer, files], api_visibility="private"
    )
    timer.tick(poll, [jobs], [jobs, progress, timer, documents, chosen], api_visibility="private")
    delete.click(delete_doc, [chosen], [documents, chosen], api_visibility="private")
    refresh.click(list_docs, None, [documents, chosen], api_visibility="private")

    def on_load(request: gr.Request) -> tuple[Any, ...]:
        identity = ctx.identity(request)
        if not ctx.may_contribute(identity):
            return gr.Tab(visible=False), gr.skip(), "", gr.skip(), gr.skip()
        return (
            gr.Tab(visible=True),
            gr.Textbox(visible=identity.role == "admin", value=identity.org or ""),
            jobs_html([], ctx.lang(request)),
            *list_docs(request),
        )

    return tab, [tab, org, progress, documents, chosen], on_load


def _failed(filename: str, message: str) -> dict[str, Any]:
    return {
        "job_id": None,
        "filename": filename,
        "state": "failed",
        "progress": 0,
        "message": message,
        "errors": [],
    }
