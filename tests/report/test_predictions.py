"""Predictions in the file's terms: softmax probabilities and class names, regression values in
the target's units, the score on the rows' own targets, and the CSV text."""

import csv
import io

import numpy as np
import pytest
import torch
from torch import nn

from mdlkit.data.new_rows import NewRows
from mdlkit.data.scaling import Scaling
from mdlkit.errors import MdlkitError
from mdlkit.report.predictions import predict_rows


def _linear(weight: list[list[float]], bias: list[float]) -> nn.Linear:
    layer = nn.Linear(len(weight[0]), len(weight))
    with torch.no_grad():
        layer.weight.copy_(torch.tensor(weight))
        layer.bias.copy_(torch.tensor(bias))
    return layer


def test_class_probabilities_labels_accuracy_and_csv() -> None:
    scaling = Scaling(("u",), (0.0,), (1.0,), ("kind",), class_names=("cat", "dog", "eel"))
    model = _linear([[1.0], [0.0], [-1.0]], [0.0, 0.5, 0.0])
    x = torch.tensor([[2.0], [0.0], [-3.0]])
    rows = NewRows(x, np.array([0, 0, -1]))
    p = predict_rows(model, rows, scaling)
    logits = np.array([[2.0, 0.5, -2.0], [0.0, 0.5, 0.0], [-3.0, 0.5, 3.0]])
    expected = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    assert p.probabilities is not None and np.allclose(p.probabilities, expected, atol=1e-12)
    assert p.labels is not None and p.labels.tolist() == [0, 1, 2]
    assert p.accuracy == pytest.approx(1 / 3)  # the unknown label (-1) counts as wrong
    lines = list(csv.reader(io.StringIO(p.csv())))
    assert lines[0] == ["predicted_kind", "p_cat", "p_dog", "p_eel"]
    assert [line[0] for line in lines[1:]] == ["cat", "dog", "eel"]
    assert float(lines[1][1]) == pytest.approx(expected[0, 0], rel=1e-8)
    assert "3 rows predicted; accuracy 33.3333%" in p.summary()
    assert "1 rows have a label the model was not trained on" in p.summary()


def test_regression_values_are_put_back_in_the_targets_units() -> None:
    scaling = Scaling(("u",), (0.0,), (1.0,), ("price",), (100.0,), (20.0,))
    model = _linear([[1.0]], [0.0])
    rows = NewRows(torch.tensor([[0.5], [-1.0]]), np.array([[115.0], [80.0]]))
    p = predict_rows(model, rows, scaling)
    assert p.values is not None and p.values.tolist() == [[110.0], [80.0]]  # z·20 + 100
    assert p.errors == {"rmse": pytest.approx(np.sqrt(25 / 2)), "mae": 2.5}
    assert p.accuracy is None
    assert p.csv().splitlines() == ["predicted_price", "110", "80"]
    assert predict_rows(model, NewRows(rows.x, None), scaling).errors is None


def test_a_model_that_does_not_match_its_scaling_is_refused() -> None:
    scaling = Scaling(("u",), (0.0,), (1.0,), ("kind",), class_names=("a", "b", "c"))
    with pytest.raises(MdlkitError, match=r"2 outputs but its scaling\.json names 3 classes"):
        predict_rows(_linear([[1.0], [2.0]], [0.0, 0.0]), NewRows(torch.zeros(1, 1), None), scaling)
