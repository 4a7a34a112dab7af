"""Shapley values on games whose values are known in closed form."""

from __future__ import annotations

import itertools

import pytest

from evals.metrics.contributor_value import (
    leave_one_out,
    shapley,
    shapley_exact,
    shapley_monte_carlo,
)


def test_additive_game_gives_each_its_weight() -> None:
    weights = {"a": 0.5, "b": 0.2, "c": -0.1, "d": 0.0}
    result = shapley_exact(list(weights), lambda s: sum(weights[p] for p in s))
    assert result.values == pytest.approx(weights)
    assert result.method == "exact" and result.evaluations == 16
    assert leave_one_out(list(weights), lambda s: sum(weights[p] for p in s)) == pytest.approx(
        weights
    )


def test_glove_game() -> None:
    # One left glove (L) and two right gloves (R1, R2); a pair is worth 1.
    # Known values: L 2/3, each R 1/6.
    def value(s: frozenset[str]) -> float:
        return float(min(int("L" in s), int("R1" in s) + int("R2" in s)))

    result = shapley_exact(["L", "R1", "R2"], value)
    assert result.values == pytest.approx({"L": 2 / 3, "R1": 1 / 6, "R2": 1 / 6})
    assert leave_one_out(["L", "R1", "R2"], value) == pytest.approx({"L": 1, "R1": 0, "R2": 0})


def test_weighted_majority_game() -> None:
    # Quota 4 with weights 3, 2, 1, 1: known Shapley values 1/2, 1/6, 1/6, 1/6.
    w = {"A": 3, "B": 2, "C": 1, "D": 1}
    result = shapley_exact(list(w), lambda s: float(sum(w[p] for p in s) >= 4))
    assert result.values == pytest.approx({"A": 1 / 2, "B": 1 / 6, "C": 1 / 6, "D": 1 / 6})


def test_efficiency_on_an_arbitrary_game() -> None:
    players = [f"p{i}" for i in range(7)]

    def value(s: frozenset[str]) -> float:  # non-additive, with a large v(empty)
        idx = sorted(int(p[1:]) for p in s)
        return 3.0 + sum(i * i for i in idx) ** 0.5 - 0.3 * len(idx) ** 2 + (0 in idx) * (6 in idx)

    result = shapley_exact(players, value)
    total = sum(result.values.values())
    assert total == pytest.approx(value(frozenset(players)) - value(frozenset()))


def _unanimity_game(players: list[str]) -> tuple[object, dict[str, float]]:
    # v = 2*u_{p0,p1} + 1*u_{p2..p5} + additive weights; phi_i = sum_T c_T/|T| + w_i.
    terms = [(2.0, set(players[:2])), (1.0, set(players[2:6])), (3.0, {players[11]})]
    weights = {p: 0.05 * i for i, p in enumerate(players)}

    def value(s: frozenset[str]) -> float:
        return sum(c for c, t in terms if t <= s) + sum(weights[p] for p in s)

    exact = dict(weights)
    for c, t in terms:
        for p in t:
            exact[p] += c / len(t)
    return value, exact


def test_monte_carlo_within_its_stated_error() -> None:
    players = [f"p{i}" for i in range(12)]
    value, exact = _unanimity_game(players)
    result = shapley(players, value, permutations=400, seed=1)  # > 10 players: sampled
    assert result.method == "monte-carlo" and result.permutations == 400
    assert any(e > 0 for e in result.stderr.values())
    for p in players:
        assert abs(result.values[p] - exact[p]) <= 4 * result.stderr[p] + 1e-9, p
    # Every permutation's marginals add up to v(all) - v(none): efficiency holds exactly.
    assert sum(result.values.values()) == pytest.approx(
        value(frozenset(players)) - value(frozenset())
    )


def test_exact_matches_brute_force_permutations() -> None:
    players = ["a", "b", "c", "d"]
    value, _ = _unanimity_game([*players, *(f"x{i}" for i in range(8))])
    by_perm = dict.fromkeys(players, 0.0)
    perms = list(itertools.permutations(players))
    for order in perms:
        s: frozenset[str] = frozenset()
        for p in order:
            by_perm[p] += (value(s | {p}) - value(s)) / len(perms)
            s = s | {p}
    assert shapley_exact(players, value).values == pytest.approx(by_perm)
    mc = shapley_monte_carlo(players, value, permutations=50, seed=3)
    assert set(mc.values) == set(players)


def test_exact_refuses_too_many_players() -> None:
    with pytest.raises(ValueError, match="limited to 10"):
        shapley_exact([str(i) for i in range(11)], lambda s: 0.0)
