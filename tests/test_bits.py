import math

import pytest

from mdlkit import CodeLength
from mdlkit.codes import uniform_codelength


@pytest.mark.parametrize("k", [1, 2, 3, 8])
@pytest.mark.parametrize("n", [0, 1, 777, 60000])
def test_uniform_code_over_power_of_two_classes_is_exactly_n_k_bits(n: int, k: int) -> None:
    # log2(2^k) = k exactly in binary floating point, so no tolerance is needed.
    assert uniform_codelength(n, 2**k).total == n * k


def test_uniform_code_for_ten_classes() -> None:
    assert uniform_codelength(1000, 10).total == pytest.approx(1000 * math.log2(10), rel=1e-15)


def test_codelength_total_is_the_sum_of_its_parts_and_adds() -> None:
    cl = CodeLength({"model": 10.25, "data": 5.5}, name="x")
    assert cl.total == 15.75
    merged = cl + CodeLength({"data": 1.0, "header": 2.0})
    assert merged.parts == {"model": 10.25, "data": 6.5, "header": 2.0}
    assert merged.to_dict()["total_bits"] == 18.75
    assert "total" in cl.table() and "kbit" in cl.table()
    assert cl.prefixed("a").parts == {"a/model": 10.25, "a/data": 5.5}


@pytest.mark.parametrize("bad", [-1.0, float("nan"), float("inf")])
def test_codelength_rejects_negative_or_non_finite_parts(bad: float) -> None:
    with pytest.raises(ValueError):
        CodeLength({"x": bad})


def test_uniform_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError):
        uniform_codelength(10, 0)
