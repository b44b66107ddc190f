"""The one-line notes of result tables: a rate with no nonzero weight, a code above uniform."""

from mdlkit.report.notes import compression_rate_text, empty_model_note


def test_empty_model_note_and_compression_rate_say_all_pruned() -> None:
    assert compression_rate_text(259, 0) == "all pruned"
    assert compression_rate_text(259, 1) == "259.0"
    note = empty_model_note(0, 199.0, 142.6, 50.2)
    assert note is not None and "\n" not in note
    assert "1.40× the uniform" in note and "50 bits (0.35×)" in note
    assert empty_model_note(9, 150.0, 142.6) is not None  # kept weights, still above uniform
    assert empty_model_note(9, 104.0, 142.6) is None
    assert empty_model_note(0, 3408.0, None) is None  # regression: no uniform code
