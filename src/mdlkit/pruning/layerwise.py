"""Layerwise pruning: each dense layer re-fitted to its own outputs under Bernoulli masks.

For each ``nn.Linear`` layer, last to first, with X its inputs on training data and Y = W X + b
its current pre-activations, minimize over w, b (init W, b) and keep probabilities γ_W, γ_b ∈ [0,1]

    mean over samples of Σ_outputs [ (Y − (w⊙γ_W) X − b⊙γ_b)² + (w²⊙γ_W⊙(1 − γ_W)) X²
                                     + b²⊙γ_b⊙(1 − γ_b) ]  +  α·(Σγ_W + Σγ_b)

— the exact expected reconstruction error under independent Bernoulli masks, plus α times the
expected number of kept entries. γ is clamped to [0, 1] after each Adam step; a layer stops when
its γ's are decided (at most 1 % inside (0.1, 0.9)) and the objective has saturated, or at
``max_steps``. Entries with γ > 0.5 keep their fitted value w; the rest become 0. Random
gradient pruning then removes what dangles, and the previous layer is next.

The reconstruction term is a mean over samples (per sample, like every strength in mdlkit), so
α = 0.1 keeps an entry when it lowers the layer's mean squared error by more than 0.1.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from mdlkit.errors import MdlkitError
from mdlkit.pruning.masks import Mask
from mdlkit.pruning.random_gradient import random_gradient_prune
from mdlkit.stopping import LossSaturation

__all__ = ["LayerReport", "layerwise_prune"]


@dataclass(frozen=True)
class LayerReport:
    """One layer's outcome: nonzero entries before and after, steps taken, final objective."""

    name: str
    nonzero_before: int
    nonzero_after: int
    steps: int
    objective: float
    decided: bool


@torch.no_grad()
def _layer_input(model: nn.Module, layer: nn.Linear, x: torch.Tensor) -> torch.Tensor:
    captured: list[torch.Tensor] = []
    handle = layer.register_forward_hook(lambda _m, inputs, _out: captured.append(inputs[0]))
    was_training = model.training
    model.eval()
    try:
        model(x)
    finally:
        handle.remove()
        model.train(was_training)
    return captured[0].reshape(-1, layer.in_features)


def _fit_layer(
    layer: nn.Linear,
    x: torch.Tensor,
    *,
    alpha: float,
    gamma_init: float,
    lr: float,
    max_steps: int,
    check_every: int,
) -> tuple[int, float, bool]:
    weight, bias = layer.weight.detach(), layer.bias.detach() if layer.bias is not None else None
    target = x @ weight.T + (bias if bias is not None else 0.0)
    x2 = x.square()
    alive_w = (weight != 0).to(weight.dtype)
    w = weight.clone().requires_grad_(True)
    g_w = torch.full_like(weight, gamma_init).requires_grad_(True)
    tensors = [w, g_w]
    if bias is not None:
        alive_b = (bias != 0).to(bias.dtype)
        b = bias.clone().requires_grad_(True)
        g_b = torch.full_like(bias, gamma_init).requires_grad_(True)
        tensors += [b, g_b]
    optimizer = torch.optim.Adam(tensors, lr=lr)
    rule = LossSaturation(window=20, min_epochs=20)
    history: list[float] = []
    decided = False
    step = 0
    for step in range(1, max_steps + 1):
        w_eff, gw = w * alive_w, g_w
        mean = x @ (w_eff * gw).T
        var = x2 @ (w_eff.square() * gw * (1 - gw)).T
        expected_l0 = gw.sum()
        if bias is not None:
            b_eff = b * alive_b
            mean = mean + b_eff * g_b
            var = var + b_eff.square() * g_b * (1 - g_b)
            expected_l0 = expected_l0 + g_b.sum()
        objective = ((target - mean).square() + var).sum(dim=1).mean() + alpha * expected_l0
        optimizer.zero_grad(set_to_none=True)
        objective.backward()
        optimizer.step()
        with torch.no_grad():
            g_w.clamp_(0.0, 1.0)
            if bias is not None:
                g_b.clamp_(0.0, 1.0)
        if step % check_every == 0:
            history.append(float(objective.detach()))
            gammas = torch.cat([t.detach().flatten() for t in tensors[1::2]])
            undecided = float(((gammas > 0.1) & (gammas < 0.9)).float().mean())
            if undecided <= 0.01 and rule.should_stop(history):
                decided = True
                break
    with torch.no_grad():
        layer.weight.copy_(w * alive_w * (g_w > 0.5))
        if bias is not None and layer.bias is not None:
            layer.bias.copy_(b * alive_b * (g_b > 0.5))
    return step, history[-1] if history else float(objective.detach()), decided


def layerwise_prune(
    model: nn.Module,
    x: torch.Tensor,
    input_shape: Sequence[int],
    *,
    alpha: float = 0.1,
    gamma_init: float = 0.3,
    lr: float = 1e-2,
    max_steps: int = 3000,
    check_every: int = 10,
    max_samples: int = 10000,
    seed: int = 0,
) -> tuple[Mask, list[LayerReport]]:
    """Prune ``model``'s dense layers in place, last to first; return the final mask and reports.

    Args:
        x: training inputs (the first ``max_samples`` are used for the layer fits).
        input_shape: the shape of one input, for random gradient pruning.
        alpha: α ≥ 0, the price of an expected kept entry (per sample).
        gamma_init: initial keep probability in [0, 1].
    """
    if not alpha >= 0:
        raise MdlkitError(f"layerwise alpha must be >= 0, got {alpha}")
    if not 0.0 <= gamma_init <= 1.0:
        raise MdlkitError(f"gamma init must lie in [0, 1], got {gamma_init}")
    if len(x) == 0:
        raise MdlkitError("layerwise pruning needs training inputs; got none")
    named_layers = [(n, m) for n, m in model.named_modules() if isinstance(m, nn.Linear)]
    if not named_layers:
        raise MdlkitError("layerwise pruning works on nn.Linear layers; the model has none")
    sample = x[:max_samples]
    reports = []
    mask = Mask.from_nonzero(model)
    for i, (name, layer) in enumerate(reversed(named_layers)):
        before = int(torch.count_nonzero(layer.weight)) + (
            int(torch.count_nonzero(layer.bias)) if layer.bias is not None else 0
        )
        inputs = _layer_input(model, layer, sample)
        steps, objective, decided = _fit_layer(
            layer,
            inputs,
            alpha=alpha,
            gamma_init=gamma_init,
            lr=lr,
            max_steps=max_steps,
            check_every=check_every,
        )
        # real samples beside the random batch (as many: its default size) keep units that
        # only data wakes
        mask = random_gradient_prune(
            model, input_shape, mask=Mask.from_nonzero(model), seed=seed + i, inputs=sample[:1024]
        )
        after = int(torch.count_nonzero(layer.weight)) + (
            int(torch.count_nonzero(layer.bias)) if layer.bias is not None else 0
        )
        reports.append(LayerReport(name, before, after, steps, objective, decided))
    return mask, reports
