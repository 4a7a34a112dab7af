"""Data that crosses module boundaries: frozen dataclasses only."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Role = Literal["student", "staff", "teacher", "admin"]
ROLES: tuple[str, ...] = ("student", "staff", "teacher", "admin")
VISIBILITIES: tuple[str, ...] = ("public", "consortium", "org")
KINDS: tuple[str, ...] = ("standard", "procedure", "case", "course", "other")
CONTRIBUTOR_TYPES: tuple[str, ...] = (
    "school",
    "enterprise",
    "research",
    "industry_body",
    "standards_body",
    "government",
    "unknown",
)
CHAIN_POSITIONS: tuple[str, ...] = ("upstream", "downstream", "school")


@dataclass(frozen=True)
class Identity:
    """Who is asking. No org and no role means anonymous: public material only."""

    user: str | None = None
    org: str | None = None
    role: str | None = None

    @property
    def anonymous(self) -> bool:
        return not self.org or not self.role

    def key(self) -> str:
        """A cache key that changes whenever what this identity may see could change."""
        return "anonymous" if self.anonymous else f"{self.org}\x1f{self.role}"


ANONYMOUS = Identity()


@dataclass(frozen=True)
class Chunk:
    """A piece of a document as stored: text plus every metadata field of the design."""

    chunk_id: str
    doc_id: str
    text: str
    source: str
    title: str
    section: str
    chunk_index: int
    content_sha256: str
    contributor: str
    contributor_type: str
    kind: str
    visibility: str
    license: str
    page: int | None = None
    allowed_roles: tuple[str, ...] = ()
    edition: str | None = None
    effective_date: str | None = None
    language: str | None = None
    hidden_text: bool = False
    ocr_confidence: float | None = None  # mean OCR confidence of the chunk's page, when OCR'd

    @property
    def locator(self) -> str:
        """Heading path, page and edition, as a reader would cite them."""
        parts = [p for p in (self.section,) if p]
        if self.page is not None:
            parts.append(f"p. {self.page}")
        if self.edition:
            parts.append(f"edition {self.edition}")
        return ", ".join(parts)

    def to_metadata(self) -> dict[str, str | int | float | bool]:
        """Flat scalar metadata for a vector store (None dropped, roles as flags)."""
        meta: dict[str, Any] = asdict(self)
        meta.pop("text")
        meta.pop("chunk_id")
        roles = meta.pop("allowed_roles")
        meta["allowed_roles"] = ",".join(roles)
        for role in ROLES:
            meta[f"role_{role}"] = not roles or role in roles
        return {k: v for k, v in meta.items() if v is not None}

    @classmethod
    def from_metadata(cls, chunk_id: str, text: str, meta: dict[str, Any]) -> Chunk:
        """Rebuild a chunk from what `to_metadata` produced.

        Raises:
            KeyError: a required field is missing (the caller treats the chunk as invisible).
        """
        roles = tuple(r for r in str(meta.get("allowed_roles", "")).split(",") if r)
        return cls(
            chunk_id=chunk_id,
            doc_id=str(meta["doc_id"]),
            text=text,
            source=str(meta["source"]),
            title=str(meta["title"]),
            section=str(meta.get("section", "")),
            chunk_index=int(meta["chunk_index"]),
            content_sha256=str(meta["content_sha256"]),
            contributor=str(meta["contributor"]),
            contributor_type=str(meta["contributor_type"]),
            kind=str(meta["kind"]),
            visibility=str(meta["visibility"]),
            license=str(meta["license"]),
            page=int(meta["page"]) if meta.get("page") is not None else None,
            allowed_roles=roles,
            edition=str(meta["edition"]) if meta.get("edition") else None,
            effective_date=str(meta["effective_date"]) if meta.get("effective_date") else None,
            language=str(meta["language"]) if meta.get("language") else None,
            hidden_text=bool(meta.get("hidden_text", False)),
            ocr_confidence=(
                float(meta["ocr_confidence"]) if meta.get("ocr_confidence") is not None else None
            ),
        )

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_json(cls, raw: str) -> Chunk:
        data = json.loads(raw)
        data["allowed_roles"] = tuple(data.get("allowed_roles") or ())
        return cls(**data)


@dataclass(frozen=True)
class Hit:
    """A retrieved chunk with its fused score and the ranks that produced it."""

    chunk: Chunk
    score: float
    dense_rank: int | None = None
    keyword_rank: int | None = None
    # Found beyond the fused top_k, by BM25 alone (never decides answering) or, for a Chinese
    # question, by its English rendering (decides only where read as relevant): it may be quoted.
    extra: bool = False


@dataclass(frozen=True)
class Citation:
    """One numbered source of an answer, with the sentence it supports."""

    n: int
    source: str
    doc_id: str
    chunk_id: str
    title: str
    locator: str
    contributor: str
    quote: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Answer:
    """What the assistant returns for one question."""

    answer: str
    refused: bool
    mode: str
    citations: tuple[Citation, ...] = ()
    retrieved: tuple[Hit, ...] = ()
    timings_ms: dict[str, float] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    features: dict[str, float] = field(default_factory=dict)  # what the answerer measured
    asked_back: bool = False  # a clarifying question instead of an answer (never `refused`)

    @property
    def outcome(self) -> str:
        """answer | refusal | clarification (DESIGN.md)."""
        if self.refused:
            return "refusal"
        return "clarification" if self.asked_back else "answer"

    def to_dict(self) -> dict[str, Any]:
        """The `ask --json` contract of DESIGN.md."""
        return {
            "answer": self.answer,
            "outcome": self.outcome,
            "refused": self.refused,
            "mode": self.mode,
            "citations": [c.to_dict() for c in self.citations],
            "retrieved": [
                {
                    "source": h.chunk.source,
                    "chunk_id": h.chunk.chunk_id,
                    "contributor": h.chunk.contributor,
                    "score": round(h.score, 6),
                }
                for h in self.retrieved
            ],
            "timings_ms": {k: round(v, 2) for k, v in self.timings_ms.items()},
            "notes": list(self.notes),
        }


@dataclass(frozen=True)
class Turn:
    """One earlier message of a conversation."""

    role: Literal["user", "assistant"]
    content: str
