"""Does the step self-check catch a biased λ̂? Deep linear networks of three and four layers.

Issue 23 (LLC beyond the toys): the default setting (ε = 1e-4, tuned on two-layer deep linear
networks, the 5×5 map and the normal crossing) overshoots the known λ on deeper networks. For
each network below — none of them in the tests — the default λ̂ at ε, the λ̂ at ε/2 (same
chains, burn-in and draws), the relative gap |λ̂(ε) − λ̂(ε/2)| / λ̂(ε/2), whether
:func:`mdlkit.complexity.check_step` warns, and the error of the estimate it reports
(ε/2 when it warns, ε otherwise). Targets: the check fires on every case whose default λ̂ is off
by more than 15 %; the reported estimate within 10 % on at least four networks.

The figures in ``results/llc_step_check.md`` were taken before MALA became the default on the
full batch, with the check's former rule (warn when the gap exceeds 8 %); the script pins plain
SGLD, and its verdict column now follows the current rule (gap + 2·standard error > 10 %).
``benchmarks/llc_deep_linear.py`` measures the current default.

Run: ``.venv/bin/python benchmarks/llc_step_check.py`` (one thread); writes
``results/llc_step_check.md``.
"""

from __future__ import annotations

import time

import torch
from _publish import cpu_name, publish

from mdlkit.complexity import LLCSettings, check_step
from mdlkit.complexity.toys import make_toy

NETWORKS = [
    "deep-linear-4-3-3-4-r1",
    "deep-linear-6-4-4-6-r2",
    "deep-linear-8-6-4-8-r2",
    "deep-linear-10-6-6-10-r3",
    "deep-linear-5-4-4-4-5-r2",
    "deep-linear-6-5-4-5-6-r1",
    "deep-linear-12-10-8-12-r3",
]


def main() -> None:
    torch.set_num_threads(1)
    started = time.time()
    lines = [
        "| network | true λ | d/2 | λ̂ at ε = 1e-4 | error | λ̂ at ε/2 | error | gap | "
        "check warns | reported | error | s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|",
    ]
    off, caught, within = 0, 0, 0
    for name in NETWORKS:
        toy = make_toy(name)
        t = time.time()
        check = check_step(toy.model, toy.data, toy.loss_fn, settings=LLCSettings(sampler="sgld"))
        a, b, chosen = check.at_step.llc, check.at_half.llc, check.chosen.llc
        err_a, err_b, err_c = (v / toy.true_llc - 1 for v in (a, b, chosen))
        off += abs(err_a) > 0.15
        caught += abs(err_a) > 0.15 and not check.reliable
        within += abs(err_c) <= 0.10
        line = (
            f"| {name} | {toy.true_llc:g} | {toy.n_parameters / 2:g} | {a:.3f} | "
            f"{100 * err_a:+.1f} % | {b:.3f} | {100 * err_b:+.1f} % | {100 * check.gap:.1f} % | "
            f"{'yes' if not check.reliable else 'no'} | {chosen:.3f} | {100 * err_c:+.1f} % | "
            f"{time.time() - t:.0f} |"
        )
        print(line, flush=True)
        lines.append(line)
    summary = [
        "",
        f"- default λ̂ off by more than 15 %: {off} of {len(NETWORKS)}; the check warned on "
        f"{caught} of them ({'every one' if caught == off else 'NOT every one'}).",
        f"- the reported estimate is within 10 % of λ on {within} of {len(NETWORKS)} networks "
        f"(target ≥ 4: {'reached' if within >= 4 else 'NOT reached'}).",
        f"- {cpu_name()}, one thread, {time.time() - started:.0f} s in all; n = 10,000 samples "
        "per network, 4 chains of 1000 + 4000 steps at each step size (the defaults).",
    ]
    header = (
        "# The LLC step self-check on deep linear networks (3–4 layers)\n\n"
        "`benchmarks/llc_step_check.py`: λ̂ at the default step ε and at ε/2; the check warns "
        "when they disagree (gap + 2·standard error over the chains > 10 %) and then reports "
        "the estimate at ε/2.\n\n"
    )
    publish("llc_step_check.md", header + "\n".join(lines + summary) + "\n")


if __name__ == "__main__":
    main()
