"""Peak memory equals the bytes of the weights plus the activations alive at once (counted by
hand); latencies come one per network, in order."""

import torch
from torch import nn

from mdlkit.report import render_text
from mdlkit.report.inference import InferenceCost, inference_table, latencies, peak_memory


def test_peak_memory_is_the_weights_plus_the_largest_live_activations() -> None:
    x = torch.randn(256, 100)
    assert peak_memory(nn.Linear(100, 50), x) == 4 * (100 * 50 + 50) + 4 * 256 * 50
    net = nn.Sequential(nn.Linear(100, 50), nn.ReLU(), nn.Linear(50, 7))
    # The first layer's output and the ReLU's are alive together; the 7 outputs need less.
    assert peak_memory(net, x) == 4 * (5050 + 357) + 2 * 4 * 256 * 50


def test_latencies_are_positive_and_in_the_networks_order() -> None:
    small, large = nn.Linear(4, 2), nn.Sequential(*(nn.Linear(400, 400) for _ in range(6)))
    fast, slow = latencies([small, nn.Sequential(nn.Linear(4, 400), large)], torch.randn(64, 4))
    assert 0 < fast < slow


def test_the_table_shows_ratios_to_the_first_network() -> None:
    costs = [
        InferenceCost("dense", 1000, 4000, {1: 2e-5, 256: 1e-3}, 8000),
        InferenceCost("exported", 100, 500, {1: 1e-5, 256: 1e-4}, 1000),
    ]
    text = render_text(inference_table(costs))
    assert "10.0× fewer" in text and "8.0× smaller" in text and "10.0× faster" in text
    assert "2.0× faster" in text and "8.0× less" in text and "1.00 ms" in text
