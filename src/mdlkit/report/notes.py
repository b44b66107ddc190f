"""One-line notes a result table carries when its figures need a word: a compression rate with
no nonzero weight, a two-part code no shorter than sending the labels as they are. Plain
strings, no plotting or table library, so any command may print them."""

from __future__ import annotations

__all__ = ["compression_rate_text", "empty_model_note"]


def compression_rate_text(params: int, nonzero: int) -> str:
    """CR = params / nonzero as a table prints it; a model without a nonzero weight has no
    rate, it is "all pruned".

    >>> compression_rate_text(259, 0), compression_rate_text(259, 7)
    ('all pruned', '37.0')
    """
    return "all pruned" if nonzero == 0 else f"{params / nonzero:.1f}"


def empty_model_note(
    nonzero: int,
    two_part_bits: float,
    uniform_bits: float | None,
    prequential_bits: float | None = None,
    *,
    advice: str = "try smaller --alphas, a linear model (select --widths 0), or the prequential "
    "code (mdlkit codelength)",
) -> str | None:
    """One line when the shortest two-part code keeps no weight (or is no shorter than the
    uniform code): the model learnt nothing the code can use. With the prequential length of the
    same family (the code that sends no model) and what to try. None when there is nothing to
    say. Lengths in bits; ``advice`` is what to try.

    >>> note = empty_model_note(0, 199.0, 142.6, 50.2)
    >>> for part in note.split("; ")[0].split(", "): print(part)
    no weight pays for itself: the two-part code (199 bits) is 1.40× the uniform code (143 bits)
    the prequential code of the same family 50 bits (0.35×)
    >>> empty_model_note(7, 96.0, 142.6) is None
    True
    """
    if uniform_bits is None or (nonzero > 0 and two_part_bits < uniform_bits):
        return None
    what = "no weight pays for itself" if nonzero == 0 else "the model does not pay for itself"
    line = (
        f"{what}: the two-part code ({two_part_bits:,.0f} bits) is "
        f"{two_part_bits / uniform_bits:.2f}× the uniform code ({uniform_bits:,.0f} bits)"
    )
    if prequential_bits is not None:
        line += (
            f", the prequential code of the same family {prequential_bits:,.0f} bits "
            f"({prequential_bits / uniform_bits:.2f}×)"
        )
    return f"{line}; {advice}"
