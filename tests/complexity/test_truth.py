"""Aoyagi's λ of deep linear networks with three and more layers, checked against properties
of the theorem that do not come from the formula itself (two layers are checked against
Aoyagi–Watanabe's reduced-rank regression in test_llc.py)."""

import itertools

import pytest

from mdlkit.complexity import deep_linear_lambda


def _admissible(widths: tuple[int, ...], rank: int) -> list[tuple[int, ...]]:
    """Every layer set S meeting Aoyagi's three conditions, written out independently."""
    m = [h - rank for h in widths]
    found = []
    for size in range(2, len(m) + 1):
        for subset in itertools.combinations(range(len(m)), size):
            inside = [m[i] for i in subset]
            outside = [m[k] for k in range(len(m)) if k not in subset]
            ell, total = size - 1, sum(inside)
            if outside and max(inside) >= min(outside):
                continue
            if total < ell * max(inside) or (outside and total >= ell * min(outside)):
                continue
            found.append(subset)
    return found


def _cases(depths: tuple[int, ...], widest: int) -> list[tuple[tuple[int, ...], int]]:
    return [
        (widths, rank)
        for depth in depths
        for widths in itertools.product(range(1, widest + 1), repeat=depth + 1)
        for rank in range(min(widths) + 1)
    ]


def test_exactly_one_layer_set_meets_the_conditions_at_depth_three_and_four() -> None:
    # the theorem's S is unique; were it not, the formula's value would depend on search order
    cases = _cases((3, 4), 5)
    assert len(cases) > 4000
    assert all(len(_admissible(widths, rank)) == 1 for widths, rank in cases)


def test_lambda_lies_between_the_rank_r_manifold_and_d_over_2() -> None:
    # near a rank-r product the realizable maps include the smooth manifold of rank-r matrices,
    # of dimension r(H_0 + H_L) − r², so λ >= half of it; and λ <= d/2 for any model
    for widths, rank in _cases((3, 4), 5):
        d = sum(a * b for a, b in itertools.pairwise(widths))
        low = (rank * (widths[0] + widths[-1]) - rank**2) / 2
        assert low - 1e-9 <= deep_linear_lambda(widths, rank) <= d / 2 + 1e-9, (widths, rank)


def test_lambda_grows_with_the_true_rank_and_ignores_the_direction() -> None:
    for widths in [(6, 4, 4, 6), (8, 6, 4, 8), (12, 10, 8, 12), (5, 4, 4, 4, 5), (20, 12, 8, 16)]:
        values = [deep_linear_lambda(widths, r) for r in range(min(widths) + 1)]
        assert values == sorted(values) and len(set(values)) == len(values), widths
        # the transposed network W_1ᵀ ⋯ W_Lᵀ computes the transposed map: the same λ
        assert values == [deep_linear_lambda(widths[::-1], r) for r in range(min(widths) + 1)]


def test_lambda_stays_bounded_as_layers_are_added() -> None:
    # Aoyagi (2024): λ of deep linear networks stays bounded however many layers are stacked
    for rank, limit in ((0, 5.0), (2, 9.5)):
        values = [deep_linear_lambda([5, *[4] * k, 5], rank) for k in range(1, 12)]
        assert all(b <= a + 1e-9 for a, b in itertools.pairwise(values))
        assert values[-1] == pytest.approx(limit) and values[-4] == pytest.approx(limit)


def test_the_benchmark_networks_have_the_values_the_formula_gives_by_hand() -> None:
    # [6, 4, 4, 6], r = 2: M = (4, 2, 2, 4); S = {1, 2} (ℓ = 1, Σ = 4, a = 1):
    # λ = (2·12 − 4)/2 + 0 − 0 + ½·2·2 = 12
    assert deep_linear_lambda([6, 4, 4, 6], 2) == pytest.approx(12.0)
    # [10, 6, 6, 10], r = 3: M = (7, 3, 3, 7); S = {1, 2}: λ = (3·20 − 9)/2 + ½·9 = 30
    assert deep_linear_lambda([10, 6, 6, 10], 3) == pytest.approx(30.0)
