"""The mode registry: every registered mode is answerable and offered by the UI, API and CLI."""

from __future__ import annotations

import gradio as gr
import pytest
from typer.testing import CliRunner

from assistant.answer.extractive import ExtractiveAnswerer
from assistant.answer.prompts import build_messages
from assistant.answer.registry import MODE_NAMES, MODES, get_mode
from assistant.errors import ConfigError
from assistant.types import Hit
from tests.factories import make_chunk
from ui.chat_tab import build_chat_tab
from ui.i18n import EN, ZH
from ui.openai_api import MODELS

STEPS = make_chunk(
    "grease-0000",
    title="RV reducer grease replacement, axes J1 to J3",
    section="Steps",
    text="1. Lock out the robot controller before opening any grease plug.\n"
    "2. Remove the outlet plug and drain the old grease of the RV reducer.\n"
    "3. Inject new grease into the RV reducer at no more than 0.2 MPa.\n"
    "4. Refit the plugs and tighten them to 8 N·m.",
)
CASE = make_chunk(
    "leak-0000",
    kind="case",
    title="Case study: grease leak at the J2 RV reducer",
    section="Case",
    text="In March 2024 the J2 RV reducer of a welding robot started to leak grease two days "
    "after a grease replacement. The root cause was that the outlet plug had been left fitted "
    "during injection, so the pressure pushed the oil seal out of its seat. The oil seal was "
    "replaced and the grease was replaced again with the outlet open.",
)
HITS = [Hit(STEPS, 1.0), Hit(CASE, 0.5)]
QUESTIONS = {
    "ask": "How do I replace the grease of the RV reducer?",
    "procedure": "How do I replace the RV reducer grease?",
    "exercise": "Make exercises on RV reducer grease replacement",
}


def test_the_registry_keeps_the_json_contract() -> None:
    assert MODE_NAMES == ("ask", "procedure", "exercise")
    assert MODE_NAMES[0] == "ask"  # the default everywhere


@pytest.mark.parametrize("name", MODE_NAMES)
def test_every_mode_is_answerable_by_the_extractive_answerer(name: str) -> None:
    question = QUESTIONS.get(name, QUESTIONS["ask"])
    answer = ExtractiveAnswerer().answer(question, HITS, mode=name)
    assert answer.mode == name
    assert not answer.refused and answer.citations, answer.answer


@pytest.mark.parametrize("name", MODE_NAMES)
def test_every_mode_has_a_prompt_label_and_model_name(name: str) -> None:
    mode = get_mode(name)
    assert mode.prompt in build_messages("q", HITS, name)[0][1]
    assert EN[f"mode_{name}"] == mode.label_en and ZH[f"mode_{name}"] == mode.label_zh
    assert MODELS[mode.api_model] == name


def test_an_unknown_mode_names_those_that_exist() -> None:
    with pytest.raises(ConfigError, match="available: ask, procedure, exercise"):
        ExtractiveAnswerer().answer("q", HITS, mode="essay")
    with pytest.raises(ConfigError, match="unknown mode 'essay'"):
        build_messages("q", HITS, "essay")


def test_the_ui_offers_every_mode() -> None:
    with gr.Blocks() as blocks:
        build_chat_tab()
    radio = next(
        b for b in blocks.blocks.values() if isinstance(b, gr.Radio) and b.elem_id == "techkb-mode"
    )
    assert [value for _, value in radio.choices] == list(MODE_NAMES)


def test_the_cli_offers_every_mode() -> None:
    from techkb.cli import app

    result = CliRunner().invoke(app, ["ask", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert " | ".join(MODE_NAMES) in result.output
    assert set(MODES) == set(MODE_NAMES)
