"""The sentence-vector cache of the extractive answerer: same vectors, each text embedded once."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from assistant.embed import CachedTextVectors


class CountingEmbedder:
    """A deterministic fake: a text's vector is a function of its length; calls are recorded."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        self.calls.append(list(texts))
        out = np.array([[len(t), 1.0, 0.0] for t in texts], dtype=np.float32).reshape(-1, 3)
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)


def test_cached_vectors_equal_fresh_ones_and_each_text_is_embedded_once() -> None:
    fake = CountingEmbedder()
    cached = CachedTextVectors(fake)
    first = cached(["a", "bb", "a"])
    assert np.array_equal(first, fake(["a", "bb", "a"]))
    fake.calls.clear()
    again = cached(["bb", "ccc", "a"])
    assert fake.calls == [["ccc"]]
    assert np.array_equal(again, fake(["bb", "ccc", "a"]))


def test_least_recently_used_texts_are_forgotten() -> None:
    fake = CountingEmbedder()
    cached = CachedTextVectors(fake, max_items=2)
    cached(["a", "bb"])
    cached(["a"])  # "a" is now the most recent
    cached(["ccc"])  # evicts "bb"
    fake.calls.clear()
    cached(["a", "bb"])
    assert fake.calls == [["bb"]]
    assert cached([]).shape[0] == 0
