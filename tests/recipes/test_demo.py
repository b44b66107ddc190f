from mdlkit.recipes import run_demo


def test_demo_drr_is_sparser_and_shorter_than_plain_at_similar_accuracy() -> None:
    runs = run_demo().runs
    plain, drr = runs["plain"].summary(), runs["drr"].summary()
    assert drr["nonzero"] < plain["nonzero"] / 5
    assert drr["two_part_bits"] < plain["two_part_bits"] / 2
    assert abs(drr["test_accuracy"] - plain["test_accuracy"]) < 0.03
    for s in (plain, drr):
        # The range coder's output is within its overhead of the ideal data length.
        assert abs(s["data_coded_bits"] - s["data_ideal_bits"]) <= 1e-4 * s["data_ideal_bits"] + 64
