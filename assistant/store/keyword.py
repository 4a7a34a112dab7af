"""BM25 keyword index (bm25s) over the catalog, with an exact per-identity visibility mask."""

from __future__ import annotations

import json
import logging
import re
import shutil
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from assistant.language import CJK_CHARS
from assistant.types import ROLES, Chunk, Identity

logger = logging.getLogger(__name__)

_CJK = re.compile(f"[{CJK_CHARS}]+")
_TOKEN = re.compile(f"[{CJK_CHARS}]+|[a-z0-9]+(?:[._-][a-z0-9]+)*")
_STOP = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "but",
        "by",
        "for",
        "from",
        "has",
        "have",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "of",
        "on",
        "or",
        "that",
        "the",
        "their",
        "then",
        "there",
        "these",
        "they",
        "this",
        "to",
        "was",
        "what",
        "when",
        "where",
        "which",
        "who",
        "why",
        "will",
        "with",
        "you",
        "your",
        "do",
        "does",
        "can",
        "should",
        "shall",
    ]
)
_VIS_CODE = {"public": 0, "consortium": 1, "org": 2}


def _import_bm25s() -> Any:
    """bm25s without numba: its numba backend is never used here (indexes run on numpy), and
    importing numba is the slowest part of a cold `techkb ask` (about 1 s of 3 on a laptop).
    numba is hidden only while bm25s imports; later imports of numba (unstructured) work."""
    if "bm25s" in sys.modules:
        return sys.modules["bm25s"]
    hide = "numba" not in sys.modules
    if hide:
        sys.modules["numba"] = None  # type: ignore[assignment]
    try:
        import bm25s
    finally:
        if hide and sys.modules.get("numba", 0) is None:
            del sys.modules["numba"]
            for name in [m for m in sys.modules if m.startswith("bm25s.numba")]:
                del sys.modules[name]
    logging.getLogger("bm25s").setLevel(logging.WARNING)  # bm25s sets DEBUG when imported
    return bm25s


@lru_cache(maxsize=1)
def _stemmer() -> Any:
    import Stemmer

    return Stemmer.Stemmer("english")


@lru_cache(maxsize=1)
def _jieba() -> Any:
    import jieba

    jieba.setLogLevel(logging.WARNING)
    return jieba


def tokenize(text: str) -> list[str]:
    """Lower-cased, stemmed English words and jieba words for Chinese runs; stop words dropped.

    Identifiers such as `M8`, `G28` or `ITSC-RS-101` stay whole, and their parts are added too.
    """
    out: list[str] = []
    for match in _TOKEN.finditer(text.lower()):
        token = match.group(0)
        if _CJK.fullmatch(token):
            out.extend(w for w in _jieba().lcut_for_search(token) if w.strip())
            continue
        if token in _STOP:
            continue
        parts = re.split(r"[._-]", token)
        out.append(_stemmer().stemWord(token) if len(parts) == 1 else token)
        if len(parts) > 1:
            out.extend(_stemmer().stemWord(p) for p in parts if p and p not in _STOP)
    return out


def keyword_text(chunk: Chunk) -> str:
    """What the keyword index reads of a chunk: its title, section and text."""
    return f"{chunk.title}\n{chunk.section}\n{chunk.text}"


@dataclass(frozen=True)
class KeywordMatch:
    chunk_id: str
    score: float


class BM25KeywordIndex:
    """A bm25s index persisted under `directory`, tagged with the catalog version it reflects."""

    def __init__(self, directory: Path) -> None:
        self._dir = directory
        self._bm25: Any = None
        self._ids: list[str] = []
        self._vis = np.zeros(0, dtype=np.int8)
        self._contrib = np.zeros(0, dtype=object)
        self._fields: dict[str, np.ndarray] = {}
        self._roles = np.zeros((0, len(ROLES)), dtype=bool)
        self._restricted = np.zeros(0, dtype=bool)
        self.version = -1
        self._masks: dict[str, np.ndarray] = {}

    def build(self, chunks: Iterable[tuple[Chunk, list[str] | None]], version: int) -> None:
        """Index every chunk (text with its title and section) and persist the result.

        Each chunk comes with its stored tokens, or None to tokenize it here.
        """
        bm25s = _import_bm25s()

        ids: list[str] = []
        tokens: list[list[str]] = []
        vis: list[int] = []
        contrib: list[str] = []
        kinds: list[str] = []
        editions: list[str] = []
        roles: list[list[bool]] = []
        for chunk, stored in chunks:
            ids.append(chunk.chunk_id)
            toks = tokenize(keyword_text(chunk)) if stored is None else stored
            tokens.append(toks or ["\x00empty"])
            vis.append(_VIS_CODE.get(chunk.visibility, -1))
            contrib.append(chunk.contributor)
            kinds.append(chunk.kind)
            editions.append(chunk.edition or "")
            roles.append([not chunk.allowed_roles or r in chunk.allowed_roles for r in ROLES])
        bm25 = bm25s.BM25()
        if tokens:
            bm25.index(tokens, show_progress=False)
        tmp = self._dir.with_name(self._dir.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        if tokens:
            bm25.save(str(tmp), show_progress=False)
        np.savez(
            tmp / "access.npz",
            vis=np.array(vis, dtype=np.int8),
            roles=np.array(roles, dtype=bool).reshape(-1, len(ROLES)),
        )
        (tmp / "ids.json").write_text(
            json.dumps(
                {
                    "version": version,
                    "ids": ids,
                    "contributor": contrib,
                    "kind": kinds,
                    "edition": editions,
                }
            )
        )
        shutil.rmtree(self._dir, ignore_errors=True)
        tmp.rename(self._dir)
        fields = {"contributor": contrib, "kind": kinds, "edition": editions}
        self._set(bm25 if tokens else None, ids, vis, fields, roles, version)

    def load(self) -> bool:
        """Load the persisted index; False when there is none."""
        meta_path = self._dir / "ids.json"
        if not meta_path.is_file():
            return False
        bm25s = _import_bm25s()

        meta = json.loads(meta_path.read_text())
        access = np.load(self._dir / "access.npz")
        bm25 = bm25s.BM25.load(str(self._dir), show_progress=False) if meta["ids"] else None
        fields = {f: meta[f] for f in ("contributor", "kind", "edition")}
        self._set(bm25, meta["ids"], access["vis"], fields, access["roles"], meta["version"])
        return True

    def _set(
        self,
        bm25: Any,
        ids: list[str],
        vis: Any,
        fields: dict[str, list[str]],
        roles: Any,
        version: int,
    ) -> None:
        self._bm25 = bm25
        self._ids = list(ids)
        self._vis = np.asarray(vis, dtype=np.int8)
        self._fields = {f: np.asarray(v, dtype=object) for f, v in fields.items()}
        self._contrib = self._fields["contributor"]
        self._roles = np.asarray(roles, dtype=bool).reshape(-1, len(ROLES))
        self._restricted = np.asarray(~self._roles.all(axis=1), dtype=bool).reshape(-1)
        self.version = int(version)
        self._masks = {}

    def mask_for(self, identity: Identity) -> np.ndarray:
        """1.0 for chunks the identity may see, 0.0 for the rest (same rule as `can_see`)."""
        key = identity.key()
        if key not in self._masks:
            allowed = self._vis == 0
            if not identity.anonymous:
                allowed |= self._vis == 1
                allowed |= (self._vis == 2) & (self._contrib == identity.org)
                if identity.role != "admin":
                    role_ok = self._roles[:, ROLES.index(str(identity.role))]
                    allowed &= ~self._restricted | role_ok
            else:
                allowed &= ~self._restricted
            self._masks[key] = allowed.astype(np.float32)
        return self._masks[key]

    def search(
        self, query: str, identity: Identity, k: int, extra_mask: np.ndarray | None = None
    ) -> list[KeywordMatch]:
        """Top-k chunks by BM25 among those the identity may see (zero scores dropped)."""
        if self._bm25 is None or not self._ids:
            return []
        tokens = tokenize(query)
        if not tokens:
            return []
        mask = self.mask_for(identity)
        if extra_mask is not None:
            mask = mask * extra_mask
        k = min(k, len(self._ids))
        docs, scores = self._bm25.retrieve(
            [tokens], k=k, show_progress=False, weight_mask=mask, n_threads=1
        )
        return [
            KeywordMatch(self._ids[int(i)], float(s))
            for i, s in zip(docs[0], scores[0], strict=True)
            if s > 0 and mask[int(i)] > 0
        ]

    def document_frequency(self, terms: Iterable[str], identity: Identity) -> dict[str, int]:
        """How many chunks the identity may see contain each (already tokenized) term.

        Counted over visible chunks only, so whether a word occurs in material the identity may
        not see cannot be inferred from how the assistant behaves.
        """
        out = dict.fromkeys(terms, 0)
        if self._bm25 is None or not self._ids:
            return out
        vocab = self._bm25.vocab_dict
        indptr, indices = self._bm25.scores["indptr"], self._bm25.scores["indices"]
        visible = self.mask_for(identity) > 0
        for term in out:
            column = vocab.get(term)
            if column is not None:
                docs = indices[indptr[column] : indptr[column + 1]]
                out[term] = int(np.count_nonzero(visible[docs]))
        return out

    def filter_mask(self, field: str, allowed: Iterable[str]) -> np.ndarray:
        """A 0/1 mask of chunks whose `field` (contributor, kind, edition) is in `allowed`."""
        values = self._fields[field]
        return np.isin(values, np.asarray(list(allowed), dtype=object)).astype(np.float32)
