"""fit's report in the user's terms: the task it chose and why, errors in the target's units."""

from __future__ import annotations

import numpy as np
import torch

from mdlkit.recipes.fit import FitConfig, fit_data, run_fit


def test_fit_reports_regression_errors_in_the_targets_own_units() -> None:
    config = FitConfig(dataset="sklearn:diabetes", epochs=3, finetune_epochs=2, grid_epochs=1,
                       warmup_epochs=1, window=4, hidden=(4,))  # fmt: skip
    result = run_fit(config)
    splits = fit_data(config)
    model = result.two_part.decoded_model
    with torch.no_grad():
        residual = (model(splits.test.x) - splits.test.y).double().numpy()
    assert splits.scaling is not None and splits.scaling.target_std is not None
    residual = residual * np.asarray(splits.scaling.target_std)  # back to the target's units
    summary = result.summary()
    assert summary["test_rmse_target_units"] == float(np.sqrt(np.mean(residual**2)))
    assert summary["test_mae_target_units"] == float(np.mean(np.abs(residual)))
    assert "task: regression" in "\n".join(result.report().notes)


def test_regression_coded_data_below_ideal_is_the_sent_range_and_is_explained() -> None:
    config = FitConfig(dataset="sklearn:diabetes", epochs=3, finetune_epochs=2, grid_epochs=1,
                       warmup_epochs=1, window=4, hidden=(4,))  # fmt: skip
    result = run_fit(config)
    code = result.two_part
    # every bin of N(f, σ²) under the decoded model: the 'ideal' row
    bins = code.head.bits(code.decoded_model, fit_data(config).train.x, fit_data(config).train.y)
    assert float(bins.sum()) == code.data_ideal_bits
    # the coder works within the range it sent; that range costs the 'side' bits
    assert code.length.parts["side"] > 0
    assert code.data_coded_bits <= code.data_ideal_bits + 64
    assert any("renormalizes each Gaussian over that range" in n for n in result.report().notes)


def test_fit_on_a_users_table_says_which_task_it_chose_first() -> None:
    config = FitConfig(dataset="sklearn:iris", epochs=2, finetune_epochs=1, grid_epochs=0,
                       warmup_epochs=0, window=4, hidden=(4,), method="none")  # fmt: skip
    notes = run_fit(config).report().notes
    assert notes[0] == (
        "none: task: classification (target 'target' holds integer labels; "
        "--task regression treats them as numbers)"
    )
