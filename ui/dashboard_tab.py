"""The Dashboard tab: documents and chunks per contributor, the citation ledger, feedback,
knowledge gaps and (for admins) the latest evaluation report."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import gradio as gr
import pandas as pd
from PIL import Image

from ui import handlers
from ui.i18n import t, text
from ui.render import column_labels, count_rows, format_time, records_rows, translated_rows
from ui.web_support import UiContext, ui_errors

logger = logging.getLogger(__name__)
LEDGER_COLUMNS = ("contributor", "citations", "answers", "up", "down")
FEEDBACK_COLUMNS = ("question", "rating", "comment", "contributors", "created")
GAP_COLUMNS = ("question", "refused", "created")


def build_dashboard_tab(ctx: UiContext) -> tuple[gr.Tab, list[Any], Any]:
    """Lay out the Dashboard tab (hidden until the page load shows it to contributors).

    Returns:
        The tab, the components the page load sets, and the load function.
    """
    with gr.Tab(
        t("tab_dashboard"), id="dashboard", visible=False, elem_id="techkb-tab-dashboard"
    ) as tab:
        scope = gr.Markdown()
        refresh = gr.Button(t("refresh"), elem_id="techkb-dashboard-refresh")
        with gr.Row():
            chunks_plot = _bar_plot("chunks", t("chunks_by_contributor"), "techkb-chunks-plot")
            ledger_plot = _bar_plot("citations", t("ledger"), "techkb-ledger-plot")
        with gr.Row():
            by_contributor = _table(t("docs_by_contributor"), ["contributor", "documents"])
            by_kind = _table(t("docs_by_kind"), ["kind", "documents"])
            by_visibility = _table(t("docs_by_visibility"), ["visibility", "documents"])
        ledger = _table(t("ledger"), list(LEDGER_COLUMNS), elem_id="techkb-ledger")
        feedback = _table(t("feedback"), list(FEEDBACK_COLUMNS), elem_id="techkb-feedback")
        gaps = _table(t("gaps"), list(GAP_COLUMNS), elem_id="techkb-gaps")
        gr.Markdown(f"### {t('eval')}")
        eval_summary = _table(t("eval"), ["metric", "value"])
        eval_plots = gr.Gallery(label=t("eval_plots"), columns=2, height="auto", visible=False)

    outputs = [
        scope,
        chunks_plot,
        ledger_plot,
        by_contributor,
        by_kind,
        by_visibility,
        ledger,
        feedback,
        gaps,
        eval_summary,
        eval_plots,
    ]

    def load(request: gr.Request) -> tuple[Any, ...]:
        lang = ctx.lang(request)
        with ui_errors(lang):
            data = handlers.dashboard(ctx.services, ctx.identity(request))
        docs = data.get("documents") or {}
        ledger_rows = records_rows(data.get("ledger") or [], LEDGER_COLUMNS)
        evaluation = data.get("eval")
        summary_rows: list[list[Any]] = []
        pictures: list[tuple[Image.Image, str]] = []
        if evaluation:
            summary_rows = [
                [name, round(value, 4) if isinstance(value, float) else value]
                for name, value in sorted((evaluation.get("summary") or {}).items())
                if isinstance(value, int | float | str)
            ]
            pictures = _plots(evaluation.get("plots") or {})
        scope_text = f"**{data.get('scope', '')}**"
        if not evaluation:
            scope_text += f" · {text('no_eval', lang)}"
        chunks = count_rows(data.get("chunks_by_contributor"))
        return (
            scope_text,
            _bars(chunks, "chunks", lang),
            _bars([r[:2] for r in ledger_rows], "citations", lang),
            _frame(count_rows(docs.get("by_contributor")), ("contributor", "documents"), lang),
            _frame(
                translated_rows(count_rows(docs.get("by_kind")), ("kind",), lang),
                ("kind", "documents"),
                lang,
            ),
            _frame(
                translated_rows(count_rows(docs.get("by_visibility")), ("visibility",), lang),
                ("visibility", "documents"),
                lang,
            ),
            _frame(ledger_rows, LEDGER_COLUMNS, lang),
            _frame(_dated(data.get("feedback"), FEEDBACK_COLUMNS), FEEDBACK_COLUMNS, lang),
            _frame(_dated(data.get("gaps"), GAP_COLUMNS), GAP_COLUMNS, lang),
            gr.Dataframe(
                value=summary_rows,
                headers=column_labels(("metric", "value"), lang),
                visible=bool(evaluation),
            ),
            gr.Gallery(value=pictures, visible=bool(pictures)),
        )

    refresh.click(load, None, outputs, api_visibility="private")
    tab.select(load, None, outputs, api_visibility="private")

    def on_load(request: gr.Request) -> Any:
        return gr.Tab(visible=ctx.may_contribute(ctx.identity(request)))

    return tab, [tab], on_load


def _bar_plot(y: str, label: Any, elem_id: str) -> gr.BarPlot:
    """Bars per contributor from zero, their names slanted so that long ones do not overlap."""
    return gr.BarPlot(
        x="contributor",
        y=y,
        label=label,
        sort="-y",
        y_lim=[0, None],
        x_label_angle=-35,
        elem_id=elem_id,
    )


def _bars(rows: list[list[Any]], y: str, lang: str) -> gr.BarPlot:
    """A bar plot's data with its axis titles in the page's language."""
    return gr.BarPlot(
        value=pd.DataFrame(rows, columns=["contributor", y]),
        x_title=text("col_contributor", lang),
        y_title=text(f"col_{y}", lang),
    )


def _frame(rows: list[list[Any]], columns: tuple[str, ...], lang: str) -> gr.Dataframe:
    return gr.Dataframe(value=rows, headers=column_labels(columns, lang))


def _dated(records: list[dict[str, Any]] | None, columns: tuple[str, ...]) -> list[list[Any]]:
    return [
        [format_time(v) if c == "created" else v for c, v in zip(columns, row, strict=True)]
        for row in records_rows(records or [], columns)
    ]


def _table(label: Any, headers: list[str], elem_id: str | None = None) -> gr.Dataframe:
    return gr.Dataframe(headers=headers, label=label, interactive=False, wrap=True, elem_id=elem_id)


def _plots(plots: dict[str, str]) -> list[tuple[Image.Image, str]]:
    """Load the report's PNG plots into memory (so no file route serves their paths)."""
    pictures = []
    for name, path in sorted(plots.items()):
        try:
            with Image.open(Path(path)) as image:
                pictures.append((image.convert("RGB"), name))
        except OSError as e:
            logger.warning("cannot read eval plot %s: %s", path, e)
    return pictures
