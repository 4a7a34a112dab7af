"""BM25 keyword index over the catalog, updated in place, with an exact per-identity mask."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np

from assistant.language import CJK_CHARS
from assistant.types import ROLES, Chunk, Identity

if TYPE_CHECKING:
    from assistant.store.catalog import Catalog

logger = logging.getLogger(__name__)

_CJK = re.compile(f"[{CJK_CHARS}]+")
_TOKEN = re.compile(f"[{CJK_CHARS}]+|[a-z0-9]+(?:[._-][a-z0-9]+)*", re.IGNORECASE)
_CAMEL_HUMP = re.compile(r"[a-z][A-Z]")
_CAMEL_PART = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")
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
# Bump when `tokenize` changes: tokens stored by another version are then recomputed.
TOKENIZER_VERSION = "2"


@lru_cache(maxsize=1)
def _stemmer() -> Any:
    import Stemmer

    return Stemmer.Stemmer("english")


@lru_cache(maxsize=1)
def _jieba() -> Any:
    import jieba

    jieba.setLogLevel(logging.WARNING)
    return jieba


def camel_parts(word: str) -> list[str]:
    """The words of a CamelCase name ("KubePodCrashLooping", "etcdNoLeader"), lower-cased;
    [] for any other word."""
    if not _CAMEL_HUMP.search(word):
        return []
    return [p.lower() for p in _CAMEL_PART.findall(word)]


# The plural "s" after a code's last digit.
_PLURAL_S = re.compile(r"(?<=[a-z0-9]\d)s$|(?<=-\d)s$")


def tokenize(text: str) -> list[str]:
    """Lower-cased, stemmed English words and jieba words for Chinese runs; stop words dropped.

    Identifiers such as `M8`, `G28` or `ITSC-RS-101` stay whole, and their parts are added too;
    so are the words of CamelCase names (`CPUThrottlingHigh`: `cputhrottlinghigh`, `cpu`,
    `throttl`, `high`), which sources also write apart.
    """
    out: list[str] = []
    for match in _TOKEN.finditer(text):
        original = match.group(0)
        token = original.lower()
        if _CJK.fullmatch(token):
            out.extend(w for w in _jieba().lcut_for_search(token) if w.strip())
            continue
        if token in _STOP:
            continue
        token = _PLURAL_S.sub("", token)  # "MVC-850s" are MVC-850 machines
        parts = re.split(r"[._-]", token)
        if len(parts) == 1:
            parts = camel_parts(original) or parts
            out.append(_stemmer().stemWord(token))
        else:
            out.append(token)
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
    """BM25 (Lucene variant, k1 1.5, b 0.75) over the catalog's chunks, kept up to date in place.

    Term frequencies live in column-compressed blocks: the chunks the catalog gained since the
    last sync become a new block and removed chunks are marked dead, so keeping up with an
    ingest costs what the new chunks cost, not a rebuild of the store (blocks are merged once
    there are many, or many dead rows). Collection statistics (chunk count, document frequency,
    average length) are those of the live chunks, so scores equal a fresh index's.
    """

    k1 = 1.5
    b = 0.75
    max_blocks = 8

    def __init__(self) -> None:
        self.version = -1
        self._vocab: dict[str, int] = {}
        self._blocks: list[Any] = []  # scipy CSC, rows = chunks, columns = vocabulary
        self._starts: list[int] = []
        self._ids: list[str] = []
        self._seq = np.zeros(0, dtype=np.int64)
        self._alive = np.zeros(0, dtype=bool)
        self._len = np.zeros(0, dtype=np.float32)
        self._vis = np.zeros(0, dtype=np.int8)
        self._roles = np.zeros((0, len(ROLES)), dtype=bool)
        self._fields: dict[str, np.ndarray] = {
            f: np.zeros(0, dtype=object) for f in ("contributor", "kind", "edition", "label")
        }
        self._masks: dict[str, np.ndarray] = {}
        self._labels: dict[str, frozenset[str]] = {}
        self._stats: tuple[int, float] | None = None

    @classmethod
    def from_chunks(cls, chunks: Iterable[Chunk]) -> BM25KeywordIndex:
        """An index of these chunks (tokenized here), outside any store."""
        index = cls()
        index.add([(i + 1, c, None) for i, c in enumerate(chunks)])
        index.version = 0
        return index

    # -- keeping up with the catalog ------------------------------------------------------------
    def sync(self, catalog: Catalog, version: int) -> None:
        """Bring the index to the catalog's state (`version` read before this call)."""
        current = catalog.chunk_seqs()
        live = np.flatnonzero(self._alive)
        gone = live[~np.isin(self._seq[live], current)]
        self._alive[gone] = False
        newest = int(self._seq.max()) if self._seq.size else 0
        computed: list[tuple[int, list[str]]] = []
        self.add(catalog.iter_index_rows(after=newest), computed)
        if computed:  # chunks stored before tokens were: store theirs for the next process
            catalog.store_tokens(computed)
        dead = int(self._alive.size - np.count_nonzero(self._alive))
        if len(self._blocks) > self.max_blocks or dead > 0.25 * max(self._alive.size, 1):
            self._compact()
        self.version = version

    def add(
        self,
        rows: Iterable[tuple[int, Chunk, list[str] | None]],
        computed: list[tuple[int, list[str]]] | None = None,
    ) -> int:
        """Append chunks (catalog seq, chunk, stored tokens or None to tokenize here, recorded
        in `computed`); returns how many were added."""
        from scipy import sparse

        r_idx: list[int] = []
        c_idx: list[int] = []
        counts: list[int] = []
        ids, seqs, lengths, vis, roles = [], [], [], [], []
        fields: dict[str, list[str]] = {f: [] for f in self._fields}
        for row, (seq, chunk, stored) in enumerate(rows):
            tokens = stored
            if tokens is None:
                tokens = tokenize(keyword_text(chunk))
                if computed is not None:
                    computed.append((seq, tokens))
            tokens = tokens or ["\x00empty"]
            tf: dict[int, int] = {}
            for token in tokens:
                col = self._vocab.setdefault(token, len(self._vocab))
                tf[col] = tf.get(col, 0) + 1
            r_idx.extend([row] * len(tf))
            c_idx.extend(tf)
            counts.extend(tf.values())
            ids.append(chunk.chunk_id)
            seqs.append(seq)
            lengths.append(len(tokens))
            vis.append(_VIS_CODE.get(chunk.visibility, -1))
            roles.append([not chunk.allowed_roles or r in chunk.allowed_roles for r in ROLES])
            fields["contributor"].append(chunk.contributor)
            fields["kind"].append(chunk.kind)
            fields["edition"].append(chunk.edition or "")
            # What names the document: its title, edition and file (codes are looked up there).
            fields["label"].append(
                sys.intern(f"{chunk.title}\n{chunk.edition or ''}\n{chunk.source}")
            )
        if not ids:
            return 0
        block = sparse.csc_matrix(
            (np.asarray(counts, dtype=np.float32), (r_idx, c_idx)),
            shape=(len(ids), len(self._vocab)),
        )
        self._starts.append(len(self._ids))
        self._blocks.append(block)
        self._ids.extend(ids)
        self._seq = np.concatenate([self._seq, np.asarray(seqs, dtype=np.int64)])
        self._alive = np.concatenate([self._alive, np.ones(len(ids), dtype=bool)])
        self._len = np.concatenate([self._len, np.asarray(lengths, dtype=np.float32)])
        self._vis = np.concatenate([self._vis, np.asarray(vis, dtype=np.int8)])
        self._roles = np.concatenate(
            [self._roles, np.asarray(roles, dtype=bool).reshape(-1, len(ROLES))]
        )
        for f, values in fields.items():
            self._fields[f] = np.concatenate([self._fields[f], np.asarray(values, dtype=object)])
        self._masks, self._labels = {}, {}
        self._stats = None
        return len(ids)

    def _compact(self) -> None:
        """One block of the live rows (dead rows and their postings dropped)."""
        from scipy import sparse

        width = len(self._vocab)
        parts = []
        for block in self._blocks:
            block = block.tocsr()
            block.resize((block.shape[0], width))
            parts.append(block)
        keep = np.flatnonzero(self._alive)
        merged = sparse.vstack(parts, format="csr")[keep].tocsc()
        self._blocks, self._starts = [merged], [0]
        self._ids = [self._ids[i] for i in keep]
        self._seq, self._len, self._vis = self._seq[keep], self._len[keep], self._vis[keep]
        self._roles = self._roles[keep]
        self._fields = {f: v[keep] for f, v in self._fields.items()}
        self._alive = np.ones(len(keep), dtype=bool)
        self._masks, self._labels = {}, {}
        self._stats = None

    # -- reading -------------------------------------------------------------------------------
    def __len__(self) -> int:
        return int(np.count_nonzero(self._alive))

    def chunk_ids(self) -> list[str]:
        """The ids of the live chunks indexed."""
        return [self._ids[i] for i in np.flatnonzero(self._alive)]

    def _postings(self, token: str) -> tuple[np.ndarray, np.ndarray]:
        """Live rows holding `token`, and its frequency in each."""
        col = self._vocab.get(token)
        if col is None:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        rows, tfs = [], []
        for start, block in zip(self._starts, self._blocks, strict=True):
            if col >= block.shape[1]:
                continue
            lo, hi = block.indptr[col], block.indptr[col + 1]
            rows.append(block.indices[lo:hi].astype(np.int64) + start)
            tfs.append(block.data[lo:hi])
        if not rows:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        r, t = np.concatenate(rows), np.concatenate(tfs)
        live = self._alive[r]
        return r[live], t[live]

    def _collection_stats(self) -> tuple[int, float]:
        if self._stats is None:
            n = len(self)
            self._stats = (n, float(self._len[self._alive].mean()) if n else 1.0)
        return self._stats

    def scores(self, tokens: list[str]) -> np.ndarray:
        """BM25 score of every row for these query tokens (a repeated token counts again)."""
        n, avgdl = self._collection_stats()
        out = np.zeros(self._alive.size, dtype=np.float32)
        for token in tokens:
            rows, tf = self._postings(token)
            if not rows.size:
                continue
            df = rows.size
            idf = np.log(1 + (n - df + 0.5) / (df + 0.5))
            norm = self.k1 * ((1 - self.b) + self.b * self._len[rows] / avgdl)
            out[rows] += (idf * tf / (norm + tf)).astype(np.float32)
        return out

    def mask_for(self, identity: Identity) -> np.ndarray:
        """1.0 for live chunks the identity may see, 0.0 for the rest (same rule as `can_see`)."""
        key = identity.key()
        if key not in self._masks:
            allowed = self._alive & (self._vis == 0)
            restricted = ~self._roles.all(axis=1)
            if not identity.anonymous:
                contrib = self._fields["contributor"]
                allowed |= self._alive & (self._vis == 1)
                allowed |= self._alive & (self._vis == 2) & (contrib == identity.org)
                if identity.role != "admin":
                    role_ok = self._roles[:, ROLES.index(str(identity.role))]
                    allowed &= ~restricted | role_ok
            else:
                allowed &= ~restricted
            self._masks[key] = allowed.astype(np.float32)
        return self._masks[key]

    def search(
        self, query: str, identity: Identity, k: int, extra_mask: np.ndarray | None = None
    ) -> list[KeywordMatch]:
        """Top-k chunks by BM25 among those the identity may see (zero scores dropped)."""
        tokens = tokenize(query)
        if not tokens or not self._ids:
            return []
        mask = self.mask_for(identity)
        if extra_mask is not None:
            mask = mask * extra_mask
        scores = self.scores(tokens) * mask
        hits = np.flatnonzero(scores > 0)
        if hits.size > k:
            hits = hits[np.argpartition(-scores[hits], k - 1)[:k]]
        hits = hits[np.lexsort((hits, -scores[hits]))]
        return [KeywordMatch(self._ids[int(i)], float(scores[i])) for i in hits]

    def document_frequency(self, terms: Iterable[str], identity: Identity) -> dict[str, int]:
        """How many chunks the identity may see contain each (already tokenized) term.

        Counted over visible chunks only, so whether a word occurs in material the identity may
        not see cannot be inferred from how the assistant behaves.
        """
        visible = self.mask_for(identity) > 0
        return {term: int(np.count_nonzero(visible[self._postings(term)[0]])) for term in terms}

    def mentions(self, code: str, identity: Identity) -> bool:
        """Whether a chunk the identity may see names `code` ("PLC-220"), alone or inside a
        longer code ("NLC-PLC-220")."""
        (whole, *_) = tokenize(code) or [""]
        if not whole:
            return False
        if self.document_frequency([whole], identity)[whole]:
            return True
        inside = re.compile(rf"(?:^|[._-]){re.escape(whole)}(?:$|[._-])")
        longer = [t for t in self._vocab if t != whole and whole in t and inside.search(t)]
        return any(self.document_frequency(longer, identity).values())

    def holding_all(self, tokens: Sequence[str], identity: Identity, limit: int) -> list[str]:
        """Ids of up to `limit` chunks the identity may see that contain every token."""
        if not tokens:
            return []
        rows = self.mask_for(identity) > 0
        for token in tokens:
            have = np.zeros(rows.size, dtype=bool)
            have[self._postings(token)[0]] = True
            rows &= have
        return [self._ids[int(i)] for i in np.flatnonzero(rows)[:limit]]

    def document_labels(self, identity: Identity) -> frozenset[str]:
        """Title, edition and file name of each document the identity may see."""
        return self.visible_values("label", identity)

    def visible_values(self, field: str, identity: Identity) -> frozenset[str]:
        """The values of `field` (label, contributor, kind, edition) of the chunks the identity
        may see."""
        key = f"{field}\0{identity.key()}"
        if key not in self._labels:
            visible = self.mask_for(identity) > 0
            self._labels[key] = frozenset(self._fields[field][visible].tolist())
        return self._labels[key]

    def sees_instructor_material(self, identity: Identity) -> bool:
        """Whether the identity may see any course material that students may not (answer
        keys, marking guides: `kind: course` whose `allowed_roles` leave students out). A
        company's staff-only case report is kept from students too, but answers no exercise."""
        visible = self.mask_for(identity) > 0
        kept_from_students = ~self._roles[:, ROLES.index("student")]
        course = self._fields["kind"] == "course"
        return bool((visible & kept_from_students & course).any())

    def filter_mask(self, field: str, allowed: Iterable[str]) -> np.ndarray:
        """A 0/1 mask of chunks whose `field` (contributor, kind, edition) is in `allowed`."""
        values = self._fields[field]
        return np.isin(values, np.asarray(list(allowed), dtype=object)).astype(np.float32)
