"""Contributor value as a cooperative game: leave-one-out and Shapley values.

`value(S)` is a dataset-level answer-quality score when only the contributors in S are in the
knowledge base. Exact Shapley values enumerate all 2^n coalitions (n <= `EXACT_MAX`); beyond
that, permutation sampling estimates them, with the standard error of each estimate.
"""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

EXACT_MAX = 10
Coalition = frozenset[str]
ValueFn = Callable[[Coalition], float]


@dataclass(frozen=True)
class ShapleyResult:
    """Shapley value per player; `stderr` is 0 for exact values."""

    values: dict[str, float]
    stderr: dict[str, float]
    method: str  # "exact" | "monte-carlo"
    permutations: int = 0
    evaluations: int = 0
    extra: dict[str, float] = field(default_factory=dict)


class _Memo:
    def __init__(self, value: ValueFn) -> None:
        self.value = value
        self.cache: dict[Coalition, float] = {}

    def __call__(self, coalition: Coalition) -> float:
        if coalition not in self.cache:
            self.cache[coalition] = float(self.value(coalition))
        return self.cache[coalition]


def leave_one_out(players: Sequence[str], value: ValueFn) -> dict[str, float]:
    """`value(all) - value(all without i)` for each player."""
    everyone = frozenset(players)
    whole = value(everyone)
    return {p: whole - value(everyone - {p}) for p in players}


def shapley_exact(players: Sequence[str], value: ValueFn) -> ShapleyResult:
    """Exact Shapley values over all 2^n coalitions (each evaluated once).

    Raises:
        ValueError: more than `EXACT_MAX` players.
    """
    n = len(players)
    if n > EXACT_MAX:
        raise ValueError(f"{n} players: exact Shapley is limited to {EXACT_MAX}")
    v = _Memo(value)
    weights = [math.factorial(s) * math.factorial(n - s - 1) / math.factorial(n) for s in range(n)]
    values = {}
    for i, p in enumerate(players):
        others = [q for j, q in enumerate(players) if j != i]
        total = 0.0
        for mask in range(1 << (n - 1)):
            coalition = frozenset(q for b, q in enumerate(others) if mask >> b & 1)
            total += weights[len(coalition)] * (v(coalition | {p}) - v(coalition))
        values[p] = total
    return ShapleyResult(values, dict.fromkeys(players, 0.0), "exact", 0, len(v.cache))


def shapley_monte_carlo(
    players: Sequence[str], value: ValueFn, *, permutations: int = 200, seed: int = 0
) -> ShapleyResult:
    """Shapley values estimated from random permutations (marginal contributions averaged).

    Each permutation adds the players one by one; a player's estimate is the mean of its
    marginal contributions and its standard error their standard deviation over sqrt(m).
    Antithetic pairs (a permutation and its reverse) reduce the variance.
    """
    rng = random.Random(seed)
    v = _Memo(value)
    marginals: dict[str, list[float]] = {p: [] for p in players}
    order = list(players)
    for m in range(max(permutations, 2)):
        if m % 2 == 0:
            rng.shuffle(order)
            current = list(order)
        else:
            current = list(reversed(order))
        coalition: Coalition = frozenset()
        before = v(coalition)
        for p in current:
            coalition = coalition | {p}
            after = v(coalition)
            marginals[p].append(after - before)
            before = after
    # Antithetic pairs are not independent: the error is computed over pair means.
    values, stderr = {}, {}
    for p, xs in marginals.items():
        pairs = [(xs[i] + xs[i + 1]) / 2 for i in range(0, len(xs) - 1, 2)]
        values[p] = statistics.fmean(xs)
        stderr[p] = statistics.stdev(pairs) / math.sqrt(len(pairs)) if len(pairs) > 1 else 0.0
    return ShapleyResult(values, stderr, "monte-carlo", max(permutations, 2), len(v.cache))


def shapley(
    players: Sequence[str], value: ValueFn, *, permutations: int = 200, seed: int = 0
) -> ShapleyResult:
    """Exact Shapley values up to `EXACT_MAX` players, Monte Carlo estimates beyond."""
    if len(players) <= EXACT_MAX:
        return shapley_exact(players, value)
    return shapley_monte_carlo(players, value, permutations=permutations, seed=seed)
