"""The Contribute tab: upload documents for one's own organisation, follow the ingestion,
list, replace and delete one's documents."""

from __future__ import annotations

import html
import logging
from collections.abc import Callable
from dataclasses import dataclass
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
    translated_rows,
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


@dataclass
class UploadForm:
    files: gr.File
    kind: gr.Dropdown
    visibility: gr.Radio
    roles: gr.CheckboxGroup
    edition: gr.Textbox
    license: gr.Textbox
    org: gr.Textbox
    upload: gr.Button
    progress: gr.HTML


@dataclass
class DocumentsPanel:
    table: gr.Dataframe
    chosen: gr.Dropdown
    refresh: gr.Button
    replace: gr.Button
    delete: gr.Button
    confirm_box: gr.Group
    confirm_text: gr.Markdown
    confirm: gr.Button
    cancel: gr.Button


def _upload_form() -> UploadForm:
    gr.Markdown(f"### {t('upload_title')}")
    with gr.Row():
        files = gr.File(
            label=t("upload_files"),
            file_count="multiple",
            type="filepath",
            elem_id="techkb-upload-files",
        )
        with gr.Column():
            kind = gr.Dropdown([(t(f"kind_{k}"), k) for k in KINDS], value="other", label=t("kind"))
            visibility = gr.Radio(
                [(t(f"visibility_{v}"), v) for v in VISIBILITIES],
                value="org",
                label=t("visibility"),
                elem_id="techkb-upload-visibility",
            )
            roles = gr.CheckboxGroup(
                [(t(f"role_{r}"), r) for r in ROLES], value=[], label=t("allowed_roles")
            )
    with gr.Row():
        edition = gr.Textbox(label=t("edition"), max_lines=1)
        license_ = gr.Textbox(label=t("license"), max_lines=1, elem_id="techkb-upload-license")
        org = gr.Textbox(label=t("upload_org"), max_lines=1, visible=False)
    upload = gr.Button(t("upload"), variant="primary", elem_id="techkb-upload")
    gr.Markdown(f"#### {t('upload_progress')}")
    progress = gr.HTML(elem_id="techkb-upload-progress")
    return UploadForm(files, kind, visibility, roles, edition, license_, org, upload, progress)


def _documents_panel() -> DocumentsPanel:
    gr.Markdown(f"### {t('my_documents')}")
    table = gr.Dataframe(
        headers=list(DOCUMENT_COLUMNS),
        interactive=False,
        wrap=True,
        elem_id="techkb-documents",
    )
    with gr.Row():
        chosen = gr.Dropdown(
            choices=[], label=t("select_document"), scale=3, elem_id="techkb-document-choice"
        )
        refresh = gr.Button(t("refresh"), scale=1)
    with gr.Row():
        replace = gr.Button(t("replace"), elem_id="techkb-replace")
        delete = gr.Button(t("delete"), variant="stop", elem_id="techkb-delete")
    with gr.Group(visible=False, elem_id="techkb-confirm-doc") as confirm_box:
        confirm_text = gr.Markdown()
        with gr.Row():
            confirm = gr.Button(
                t("confirm_delete"), variant="stop", elem_id="techkb-confirm-delete-doc"
            )
            cancel = gr.Button(t("cancel"), elem_id="techkb-cancel-delete-doc")
    return DocumentsPanel(
        table, chosen, refresh, replace, delete, confirm_box, confirm_text, confirm, cancel
    )


def build_contribute_tab(ctx: UiContext) -> tuple[gr.Tab, list[Any], Any]:
    """Lay out the Contribute tab (hidden until the page load shows it to contributors).

    Returns:
        The tab, the components the page load refreshes, and the refresh function.
    """
    with gr.Tab(
        t("tab_contribute"), id="contribute", visible=False, elem_id="techkb-tab-contribute"
    ) as tab:
        form = _upload_form()
        panel = _documents_panel()
        # Inside the tab: gr.Tabs may hold nothing but tabs.
        jobs = gr.State([])
        timer = gr.Timer(POLL_SECONDS, active=False)
    on_load = _wire(ctx, form, panel, jobs, timer)
    return tab, [tab, form.org, form.license, form.progress, panel.table, panel.chosen], on_load


def list_docs(ctx: UiContext, request: gr.Request) -> tuple[Any, Any]:
    """The caller's documents (table and dropdown)."""
    lang = ctx.lang(request)
    with ui_errors(lang):
        docs = handlers.list_documents(ctx.services, ctx.identity(request))
    rows = translated_rows(records_rows(docs, DOCUMENT_COLUMNS), DOCUMENT_COLUMNS, lang)
    return (
        gr.Dataframe(value=rows, headers=column_labels(DOCUMENT_COLUMNS, lang)),
        gr.Dropdown(choices=document_choices(docs), value=None),
    )


def start(
    ctx: UiContext,
    paths: list[str] | None,
    values: dict[str, Any],
    known: list[dict[str, Any]],
    request: gr.Request,
) -> tuple[Any, ...]:
    """Take this session's uploaded files and queue their ingestion (one failure per file)."""
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
            job_id = handlers.start_upload(ctx.services, identity, name, data, **values)
        except TechkbError as e:  # one bad file must not stop the others
            known.append(_failed(name, error_message(e, lang)))
            continue
        known.append({"job_id": job_id, "filename": name, "state": "queued", "progress": 0})
    return known, jobs_html(known, lang), gr.Timer(active=True), None


def replace_doc(
    ctx: UiContext,
    paths: list[str] | None,
    doc_id: str | None,
    known: list[dict[str, Any]],
    request: gr.Request,
) -> tuple[Any, ...]:
    """Replace the chosen uploaded document with the file uploaded."""
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


def poll(ctx: UiContext, known: list[dict[str, Any]], request: gr.Request) -> tuple[Any, ...]:
    """Refresh the upload jobs; list the documents again once they are all finished."""
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
        docs_update = list_docs(ctx, request)
    return (updated, jobs_html(updated, lang), gr.Timer(active=not finished), *docs_update)


def ask_to_delete(ctx: UiContext, doc_id: str | None, request: gr.Request) -> tuple[Any, Any]:
    """Say what deleting the chosen document removes, and ask to confirm."""
    lang = ctx.lang(request)
    if not doc_id:
        raise gr.Error(text("select_first", lang))
    with ui_errors(lang):
        docs = handlers.list_documents(ctx.services, ctx.identity(request))
    row = next((d for d in docs if d["doc_id"] == doc_id), None)
    if row is None:
        raise gr.Error(text("error_not_found", lang))
    message = text("confirm_delete_document", lang).format(
        title=html.escape(str(row["title"] or row["source"])),
        source=html.escape(str(row["source"])),
        chunks=row["chunks"],
    )
    return gr.Group(visible=True), message


def delete_doc(ctx: UiContext, doc_id: str | None, request: gr.Request) -> tuple[Any, ...]:
    """Delete the chosen document (after the confirmation)."""
    lang = ctx.lang(request)
    if not doc_id:
        raise gr.Error(text("select_first", lang))
    with ui_errors(lang):
        handlers.delete_document(ctx.services, ctx.identity(request), doc_id)
    gr.Info(text("deleted", lang))
    return (*list_docs(ctx, request), gr.Group(visible=False))


def on_load(ctx: UiContext, request: gr.Request) -> tuple[Any, ...]:
    """Show the tab to contributors, with their org's default licence and their documents."""
    identity = ctx.identity(request)
    if not ctx.may_contribute(identity):
        return gr.Tab(visible=False), gr.skip(), gr.skip(), "", gr.skip(), gr.skip()
    lang = ctx.lang(request)
    licence = ctx.services.call(handlers.contributor_licences, ctx.services).get(
        str(identity.org), ""
    )
    return (
        gr.Tab(visible=True),
        gr.Textbox(visible=identity.role == "admin", value=identity.org or ""),
        gr.Textbox(
            placeholder=licence,
            info=text("license_default", lang).format(license=licence or "—"),
        ),
        jobs_html([], lang),
        *list_docs(ctx, request),
    )


def _wire(
    ctx: UiContext, form: UploadForm, panel: DocumentsPanel, jobs: gr.State, timer: gr.Timer
) -> Callable[[gr.Request], tuple[Any, ...]]:
    """Register the tab's events; returns its page-load function."""
    private: dict[str, Any] = {"api_visibility": "private"}
    docs = [panel.table, panel.chosen]
    progress = [jobs, form.progress, timer, form.files]

    def _start(
        paths: Any, kind: str, visibility: str, roles: list[str], edition: str, licence: str,
        org: str, known: Any, request: gr.Request,
    ) -> tuple[Any, ...]:  # fmt: skip
        values = {
            "kind": kind,
            "visibility": visibility,
            "allowed_roles": list(roles) or None,
            "edition": (edition or "").strip() or None,
            "license": (licence or "").strip() or None,  # empty: the org's default
            "org": (org or "").strip() or None,  # admins only; others: own org
        }
        return start(ctx, paths, values, known, request)

    form.upload.click(
        _start,
        [form.files, form.kind, form.visibility, form.roles, form.edition, form.license,
         form.org, jobs],
        progress,
        **private,
    )  # fmt: skip

    def _replace(paths: Any, doc_id: str | None, known: Any, request: gr.Request) -> Any:
        return replace_doc(ctx, paths, doc_id, known, request)

    def _poll(known: Any, request: gr.Request) -> Any:
        return poll(ctx, known, request)

    def _ask(doc_id: str | None, request: gr.Request) -> Any:
        return ask_to_delete(ctx, doc_id, request)

    def _delete(doc_id: str | None, request: gr.Request) -> Any:
        return delete_doc(ctx, doc_id, request)

    def _list(request: gr.Request) -> Any:
        return list_docs(ctx, request)

    def _load(request: gr.Request) -> tuple[Any, ...]:
        return on_load(ctx, request)

    panel.replace.click(_replace, [form.files, panel.chosen, jobs], progress, **private)
    timer.tick(_poll, [jobs], [*progress[:3], *docs], **private)
    panel.delete.click(_ask, [panel.chosen], [panel.confirm_box, panel.confirm_text], **private)
    panel.cancel.click(lambda: gr.Group(visible=False), None, panel.confirm_box, **private)
    panel.confirm.click(_delete, [panel.chosen], [*docs, panel.confirm_box], **private)
    panel.refresh.click(_list, None, docs, **private)
    return _load


def _failed(filename: str, message: str) -> dict[str, Any]:
    return {
        "job_id": None,
        "filename": filename,
        "state": "failed",
        "progress": 0,
        "message": message,
        "errors": [],
    }
