"""λ̂ and wall time beside devinterp 1.3.2 on the same models, data and settings, in one run.

Target (issue): the two estimates agree within noise, and mdlkit's wall time is at most
devinterp's. Models: the toys ``linear``, ``deep-linear-5-3-5-r0``, ``deep-linear-6-4-6-r2``
(mdlkit's default setting: full batch, γ = 1, ε = 1e-4, 4 chains of 1000 + 4000 steps) and
``normal-crossing`` (ε = 3e-3, 2000 + 8000 steps), n = 10,000; and an MLP [64, 32, 10] trained
briefly on digits with minibatches (batch 64, γ = 100, ε = 1e-4, 4 chains of 200 + 800 steps).
nβ = n / ln n everywhere (passed to devinterp, whose own default comes from the batch size).

Per model the estimators run one after the other on the same model object and data (the order
flips from model to model, so drifts of a shared machine hit both alike), on one torch thread:

- mdlkit: :func:`mdlkit.complexity.estimate_llc`;
- devinterp as its documentation shows it: ``estimate_learning_coeff_with_summary`` with a
  ``DataLoader(TensorDataset(x, y), batch_size, shuffle=True)`` (sample-by-sample fetching and
  collation) and its own L_n(w*);
- devinterp with batched fetching: the same call, but the loader's dataset indexes the tensors
  once per batch (``__getitems__``, as mdlkit's batches do) and L_n(w*) over all samples is passed
  as ``init_loss`` — the sampling loops alone, compared at identical conventions.

A chain that diverges ends the whole call in either library; that estimator then runs again at
the next seed, and the file says so. The two SGLD steps are also run side by side on the same
noise, to show that they are the same arithmetic.

Run: ``.venv/bin/python benchmarks/llc_vs_devinterp.py`` (two to three hours, mostly devinterp's
sample-by-sample loader) — needs ``devinterp==1.3.2`` (``pip install -e '.[bench]'``) and skips
with a message without it; writes ``results/llc_vs_devinterp.md``. ``--quick`` runs chains 20×
shorter and writes nothing (a smoke test).
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import platform
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, replace
from importlib import metadata
from pathlib import Path

import numpy as np
import torch
from _publish import cpu_name, publish
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader, Dataset, TensorDataset

from mdlkit.complexity import SGLD, LLCSettings, estimate_llc
from mdlkit.complexity.toys import make_toy
from mdlkit.data import Split, load_dataset
from mdlkit.errors import MdlkitError
from mdlkit.models import mlp
from mdlkit.runs import git_revision
from mdlkit.training import ShuffledBatches, TrainConfig, train

DEVINTERP = "1.3.2"
# devinterp runs SGLD: mdlkit's plain SGLD (not its full-batch default, MALA) is compared
TOY_SETTINGS = LLCSettings(sampler="sgld")
CROSSING_SETTINGS = replace(TOY_SETTINGS, step=3e-3, burn_in=2000, draws=8000)
MLP_SETTINGS = LLCSettings(step=1e-4, gamma=100.0, batch_size=64, burn_in=200, draws=800)
MLP_EPOCHS = 30
ATTEMPTS = 3

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class Case:
    """One model at w*, its training data and loss, the setting both estimators run with."""

    name: str
    model: nn.Module
    data: Split
    loss_fn: LossFn
    true_llc: float | None
    settings: LLCSettings

    @property
    def n_beta(self) -> float:
        return len(self.data) / math.log(len(self.data))


@dataclass(frozen=True)
class Run:
    """One estimator's λ̂ per chain, each chain's mean sampled loss, its L_n(w*), seconds, the
    seed it ran with, earlier attempts that diverged (see :func:`_with_retries`) and mdlkit's
    warnings."""

    per_chain: tuple[float, ...]
    mean_loss: tuple[float, ...]
    initial_loss: float
    seconds: float
    seed: int = 0
    failures: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()

    @property
    def llc(self) -> float:
        return float(np.mean(self.per_chain))

    @property
    def std(self) -> float:
        """Across chains, n − 1 in the denominator (devinterp's torch.std; mdlkit's LLCResult.std
        divides by n)."""
        return float(np.std(self.per_chain, ddof=1))


@dataclass(frozen=True)
class CaseInfo:
    """What the report needs of a :class:`Case`: its name, λ, setting and number of samples."""

    name: str
    true_llc: float | None
    settings: LLCSettings
    n: int

    @property
    def n_beta(self) -> float:
        return self.n / math.log(self.n)


@dataclass(frozen=True)
class Row:
    """One model's three runs, L_n(w*) over all samples, the spread of devinterp's shift (see
    :func:`_shift_spread`), the two SGLD steps' largest difference on the same noise (see
    :func:`_same_noise_gap`), devinterp's warnings and the wall seconds of the whole row."""

    case: CaseInfo
    mdlkit: Run
    devinterp: Run
    batched: Run
    full_loss: float
    shift_spread: float
    same_noise_gap: float
    caught: tuple[str, ...] = ()
    seconds: float = 0.0

    def save(self, path: Path) -> None:
        """The row as JSON (what a later call, or the other half run beside it, reads back)."""
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=1))
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> Row:
        d = json.loads(path.read_text())
        c = d.pop("case")
        case = CaseInfo(c["name"], c["true_llc"], LLCSettings(**c["settings"]), c["n"])
        runs = {
            k: Run(**{f: tuple(v) if isinstance(v, list) else v for f, v in d.pop(k).items()})
            for k in ("mdlkit", "devinterp", "batched")
        }
        return cls(case, **runs, **{k: tuple(v) if k == "caught" else v for k, v in d.items()})


class _IndexedTensors(Dataset[tuple[torch.Tensor, torch.Tensor]]):
    """(x, y) tensors that a DataLoader fetches a whole batch at a time: ``__getitems__`` takes
    the batch's indices and returns the batch, and the loader's ``collate_fn`` passes it on."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor) -> None:
        self.x, self.y = x, y

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.x[i], self.y[i]

    def __getitems__(self, indices: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        idx = torch.as_tensor(indices)
        return self.x[idx], self.y[idx]


def _batch_as_is(batch: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    return batch


def _evaluate(loss_fn: LossFn) -> Callable[[nn.Module, Sequence[torch.Tensor]], torch.Tensor]:
    """devinterp's ``evaluate``: the mean loss of the batch (its SGLD multiplies the gradient of
    this by nβ, as mdlkit's does)."""

    def evaluate(model: nn.Module, batch: Sequence[torch.Tensor]) -> torch.Tensor:
        x, y = batch
        return loss_fn(model(x), y)

    return evaluate


@torch.no_grad()
def _full_loss(case: Case) -> float:
    """L_n(w*) in one pass over all samples."""
    return float(case.loss_fn(case.model(case.data.x), case.data.y))


@torch.no_grad()
def _shift_spread(case: Case) -> float:
    """The std of nβ·(L_n(w*) − devinterp's L_n(w*)) over devinterp's random choice of batches:
    the mean of m = chains × batch samples drawn without replacement from n has variance
    s²·(n − m) / (m·(n − 1)), s² the variance of the per-sample losses at w*."""
    n = len(case.data)
    m = min(case.settings.chains * (case.settings.batch_size or n), n)
    x, y = case.data.x, case.data.y
    losses = np.array(
        [float(case.loss_fn(case.model(x[i : i + 1]), y[i : i + 1])) for i in range(n)]
    )
    return case.n_beta * math.sqrt(losses.var(ddof=1) * (n - m) / (m * (n - 1)))


def _same_noise_gap(case: Case, steps: int = 1000) -> float:
    """The largest |w_mdlkit − w_devinterp| after ``steps`` steps of the two SGLD optimizers fed
    the same batches and the same noise (one generator each, equally seeded): 0 when the steps
    are the same arithmetic, so that the estimates can differ only through the random streams."""
    from devinterp.optim.sgld import SGLD as DevinterpSGLD

    s = case.settings
    ours, theirs = copy.deepcopy(case.model), copy.deepcopy(case.model)
    noise_ours = torch.Generator().manual_seed(s.seed)
    noise_theirs = torch.Generator().manual_seed(s.seed)
    opt_ours = SGLD(
        list(ours.parameters()),
        step=s.step,
        n_beta=case.n_beta,
        gamma=s.gamma,
        generator=noise_ours,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "SGLD has been deprecated" (listed in the file)
        opt_theirs = DevinterpSGLD(
            theirs.parameters(), lr=s.step, localization=s.gamma, nbeta=case.n_beta
        )
    batches = ShuffledBatches(s.batch_size, s.seed)
    taken = 0
    while taken < steps:
        for x, y in batches.epoch(case.data):
            for model, opt in ((ours, opt_ours), (theirs, opt_theirs)):
                opt.zero_grad()
                case.loss_fn(model(x), y).backward()
            opt_ours.step()
            opt_theirs.step(noise_generator=noise_theirs)
            taken += 1
            if taken == steps:
                break
    pairs = zip(ours.parameters(), theirs.parameters(), strict=True)
    return max(float((a - b).detach().abs().max()) for a, b in pairs)


def _with_retries(estimate: Callable[[Case], Run], case: Case) -> Run:
    """``estimate`` at the case's seed and, if a chain diverges — which ends the whole call in
    both libraries —, at the next seeds, up to :data:`ATTEMPTS`; the failed attempts are kept in
    ``Run.failures`` (all failed: λ̂ is NaN)."""
    failures: list[str] = []
    for seed in range(case.settings.seed, case.settings.seed + ATTEMPTS):
        attempt = replace(case, settings=replace(case.settings, seed=seed))
        start = time.perf_counter()
        try:
            return replace(estimate(attempt), seed=seed, failures=tuple(failures))
        except (MdlkitError, RuntimeError) as error:
            message = str(error).strip().splitlines()[0]
            if isinstance(error, RuntimeError) and "NaN" not in message:
                raise  # only devinterp's "NaN detected in loss" is a diverged chain
            failures.append(f"seed {seed}: “{message}” after {time.perf_counter() - start:.0f} s")
    nan = (math.nan,) * case.settings.chains
    return Run(nan, nan, math.nan, math.nan, seed=-1, failures=tuple(failures))


def run_mdlkit(case: Case) -> Run:
    start = time.perf_counter()
    result = estimate_llc(case.model, case.data, case.loss_fn, settings=case.settings)
    seconds = time.perf_counter() - start
    burn_in = case.settings.burn_in
    means = tuple(float(np.mean(t[burn_in:])) for t in result.traces)
    return Run(result.per_chain, means, result.initial_loss, seconds, warnings=result.warnings)


def run_devinterp(case: Case, *, batched: bool, caught: set[str]) -> Run:
    """devinterp's estimate at ``case.settings``; its warnings go to ``caught`` (first lines)."""
    from devinterp.slt.sampler import estimate_learning_coeff_with_summary

    settings = case.settings
    size = settings.batch_size or len(case.data)
    x, y = case.data.x, case.data.y
    if batched:
        loader = DataLoader(
            _IndexedTensors(x, y), batch_size=size, shuffle=True, collate_fn=_batch_as_is
        )
        init_loss: float | None = _full_loss(case)
    else:
        loader = DataLoader(TensorDataset(x, y), batch_size=size, shuffle=True)
        init_loss = None  # devinterp measures it itself
    with warnings.catch_warnings(record=True) as records:
        warnings.simplefilter("always")
        start = time.perf_counter()
        out = estimate_learning_coeff_with_summary(
            case.model,
            loader,
            evaluate=_evaluate(case.loss_fn),
            optimizer_kwargs={
                "lr": settings.step,
                "localization": settings.gamma,
                "nbeta": case.n_beta,
            },
            num_draws=settings.draws,
            num_chains=settings.chains,
            num_burnin_steps=settings.burn_in,
            init_loss=init_loss,
            seed=settings.seed,
            verbose=False,
        )
        seconds = time.perf_counter() - start
    caught.update(str(r.message).strip().splitlines()[0] for r in records)
    per_chain = tuple(float(out[f"llc-chain/{c}"]) for c in range(settings.chains))
    means = tuple(float(m) for m in np.asarray(out["loss/trace"], dtype=np.float64).mean(axis=1))
    # devinterp does not return its L_n(w*); each chain's λ̂ = nβ·(mean loss − L_n(w*)) gives it.
    initial = float(np.mean([m - v / case.n_beta for m, v in zip(means, per_chain, strict=True)]))
    return Run(per_chain, means, initial, seconds)


def _warm_up(case: Case) -> None:
    """One short untimed call of each: the first torch optimizer a process builds imports
    torch._dynamo (about a second), which would otherwise count against whichever runs first."""
    tiny = replace(case, settings=replace(case.settings, chains=1, burn_in=1, draws=2))
    run_mdlkit(tiny)
    run_devinterp(tiny, batched=True, caught=set())  # its warnings are the warm-up's own
    run_devinterp(tiny, batched=False, caught=set())


def _digits_mlp(settings: LLCSettings) -> Case:
    splits = load_dataset("digits", seed=0)
    torch.manual_seed(0)
    model = mlp([64, 32, 10])
    config = TrainConfig(max_epochs=MLP_EPOCHS, batch_size=64, stopping=None, keep_best=False)
    train(model, splits.train, splits.val, config)
    return Case("MLP [64, 32, 10], digits", model, splits.train, F.cross_entropy, None, settings)


ROWS = Path(__file__).parent / "results" / "llc_vs_devinterp.rows"
"""Each finished model's row (JSON): a killed run, or the other half, goes on from them."""
TOYS = ("linear", "deep-linear-5-3-5-r0", "deep-linear-6-4-6-r2", "normal-crossing")
CASES = (*TOYS, "mlp")
"""The models compared, by the names ``--only`` takes."""


def cases(shorten: int, only: Sequence[str] = CASES) -> Iterator[Case]:
    """The models named in ``only``, built one at a time; chains ``shorten`` times shorter
    (1: as published)."""

    def short(s: LLCSettings) -> LLCSettings:
        return replace(s, burn_in=s.burn_in // shorten, draws=s.draws // shorten)

    for name in (n for n in TOYS if n in only):
        toy = make_toy(name)
        settings = CROSSING_SETTINGS if name == "normal-crossing" else TOY_SETTINGS
        yield Case(name, toy.model, toy.data, toy.loss_fn, toy.true_llc, short(settings))
    if "mlp" in only:
        yield _digits_mlp(short(MLP_SETTINGS))


def _gap(a: Run, b: Run) -> float:
    """(a − b) in units of the combined across-chain std √(s_a² + s_b²)."""
    return (a.llc - b.llc) / math.sqrt(a.std**2 + b.std**2)


def _setting(s: LLCSettings) -> str:
    batch = "full batch" if s.batch_size is None else f"batch {s.batch_size}"
    return f"{batch}, ε {s.step:g}, γ {s.gamma:g}, {s.chains} chains × ({s.burn_in} + {s.draws})"


def _installed_devinterp() -> str | None:
    try:
        import devinterp.slt.sampler  # noqa: F401
    except ImportError:
        return None
    return metadata.version("devinterp")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="chains 20× shorter, no file")
    parser.add_argument(
        "--only",
        default=",".join(CASES),
        help=f"the models to compare, comma-separated (default: all of {','.join(CASES)}); "
        "each finished model is kept, so two halves can run side by side on two cores, and "
        "the file is written once every model is done",
    )
    args = parser.parse_args()
    only = [name for name in args.only.split(",") if name]
    if not only or any(name not in CASES for name in only):
        parser.error(f"--only takes names among {', '.join(CASES)}")
    version = _installed_devinterp()
    if version is None:
        print(
            f"skipping: devinterp is not installed; `pip install devinterp=={DEVINTERP}` "
            "(or `pip install -e '.[bench]'`) to compare against it"
        )
        return 0
    if version != DEVINTERP:
        print(
            f"skipping: devinterp {version} is installed, this comparison is written for "
            f"{DEVINTERP} (2.x takes only language models)"
        )
        return 0
    torch.set_num_threads(1)
    ROWS.mkdir(parents=True, exist_ok=True)
    done = {} if args.quick else {p.stem: p for p in ROWS.glob("*.json")}
    quick_rows: list[Row] = []
    for i, case in enumerate(cases(20 if args.quick else 1, [n for n in only if n not in done])):
        started = time.perf_counter()
        caught: set[str] = set()
        if i == 0:
            _warm_up(case)
        before = copy.deepcopy(case.model.state_dict())
        full, spread, gap = _full_loss(case), _shift_spread(case), _same_noise_gap(case)
        estimators: dict[str, Callable[[Case], Run]] = {
            "mdlkit": run_mdlkit,
            "devinterp": lambda c, w=caught: run_devinterp(c, batched=False, caught=w),
            "batched": lambda c, w=caught: run_devinterp(c, batched=True, caught=w),
        }
        order = list(estimators) if i % 2 == 0 else list(estimators)[::-1]
        runs: dict[str, Run] = {}
        for which in order:
            runs[which] = r = _with_retries(estimators[which], case)
            print(
                f"{case.name:28} {which:9} λ̂ {r.llc:9.3f} ± {r.std:7.3f}  {r.seconds:8.1f} s"
                + "".join(f"\n    failed: {f}" for f in r.failures),
                flush=True,
            )
        for key, value in case.model.state_dict().items():  # neither estimator moved w*
            assert torch.equal(value, before[key]), key
        info = CaseInfo(case.name, case.true_llc, case.settings, len(case.data))
        row = Row(info, runs["mdlkit"], runs["devinterp"], runs["batched"], full, spread, gap,
                  tuple(sorted(caught)), time.perf_counter() - started)  # fmt: skip
        if args.quick:
            quick_rows.append(row)
        else:
            row.save(ROWS / f"{_stem(case.name)}.json")
    if args.quick:
        print(_report(quick_rows))
        return 0
    rows = {r.case.name: r for r in map(Row.load, sorted(ROWS.glob("*.json")))}
    missing = [n for n in CASES if _stem(n) not in {_stem(k) for k in rows}]
    if missing:
        print(f"rows kept in {ROWS}; still to run: {', '.join(missing)} (call again to go on)")
        return 0
    ordered = sorted(rows.values(), key=lambda r: CASES.index(_stem(r.case.name)))
    publish("llc_vs_devinterp.md", _report(ordered))
    return 0


def _stem(name: str) -> str:
    return "mlp" if name.startswith("MLP") else name


def _report(rows: list[Row]) -> str:
    caught = {w for r in rows for w in r.caught}
    minutes = sum(r.seconds for r in rows) / 60
    git = git_revision()
    revision = (
        ""
        if git is None
        else f" ({git['commit'][:8]}" + (", uncommitted changes)" if git["dirty"] else ")")
    )
    main_rows, loop_rows, init_rows, settings_rows = [], [], [], []
    for row in rows:
        case, mdl, dev, fast = row.case, row.mdlkit, row.devinterp, row.batched
        truth = "—" if case.true_llc is None else f"{case.true_llc:g}"
        main_rows.append(
            f"| {case.name} | {truth} | {mdl.llc:.3f} ± {mdl.std:.3f} | "
            f"{dev.llc:.3f} ± {dev.std:.3f} | {_gap(mdl, dev):+.2f} | {mdl.seconds:.1f} | "
            f"{dev.seconds:.1f} | {mdl.seconds / dev.seconds:.3f} |"
        )
        loop_rows.append(
            f"| {case.name} | {fast.llc:.3f} ± {fast.std:.3f} | {_gap(mdl, fast):+.2f} | "
            f"{mdl.seconds:.1f} | {fast.seconds:.1f} | {mdl.seconds / fast.seconds:.3f} |"
        )
        shift = case.n_beta * (row.full_loss - dev.initial_loss)
        init_rows.append(
            f"| {case.name} | {case.n:,} | {case.n_beta:.1f} | {mdl.initial_loss:.6f} | "
            f"{dev.initial_loss:.6f} | {shift:+.3f} | {row.shift_spread:.3f} | "
            f"{dev.llc - shift:.3f} |"
        )
        settings_rows.append(
            f"| {case.name} | {_setting(case.settings)} | {row.same_noise_gap:.3g} |"
        )
    gaps = [abs(_gap(r.mdlkit, r.devinterp)) for r in rows]
    loop_gaps = [abs(_gap(r.mdlkit, r.batched)) for r in rows]
    ratios = [r.mdlkit.seconds / r.devinterp.seconds for r in rows]
    loop_ratios = [r.mdlkit.seconds / r.batched.seconds for r in rows]
    same_chains = [
        r.case.name
        for r in rows
        if r.case.settings.batch_size is None
        and np.allclose(r.devinterp.mean_loss, r.batched.mean_loss, rtol=1e-6, atol=0)
    ]
    flagged = [
        f"{r.case.name}: {'; '.join(w.split(':')[0] for w in r.mdlkit.warnings)}"
        for r in rows
        if r.mdlkit.warnings
    ]
    retried = [
        f"- {r.case.name}, {label}: {'; '.join(run.failures)}; "
        + ("every seed diverged." if run.seed < 0 else f"the row is seed {run.seed}'s.")
        for r in rows
        for label, run in (
            ("mdlkit", r.mdlkit),
            ("devinterp", r.devinterp),
            ("devinterp (batched)", r.batched),
        )
        if run.failures
    ]
    crossing = next((r.case for r in rows if r.case.name == "normal-crossing"), None)
    step = crossing.settings.step if crossing is not None else math.nan
    edge = (4 / (step * crossing.n_beta)) ** 0.25 if crossing is not None else math.nan
    lines = [
        "# λ̂ and wall time beside devinterp 1.3.2",
        "",
        f"`.venv/bin/python benchmarks/llc_vs_devinterp.py` — {platform.machine()}, "
        f"{cpu_name()}, torch {torch.__version__}, devinterp {metadata.version('devinterp')}, "
        f"mdlkit {metadata.version('mdlkit')}{revision}, {time.strftime('%Y-%m-%d')}; "
        f"{minutes:.0f} min of runs in all (models may run in two processes side by side, "
        "`--only`; each model's three runs always run one after the other in one process). "
        "Both estimators on the CPU with one torch thread "
        f"({torch.get_num_threads()}), each timed as one call (wall clock, "
        "`time.perf_counter`), one after the other on the same model object and data, the "
        "order flipped from model to model, after one short untimed call of each (the first "
        "torch optimizer of a process imports torch._dynamo, about a second). The machine "
        "(2 cores) was shared with other jobs: timings are single runs and carry their noise.",
        "",
        "Same setting for both (nβ = n / ln n passed to devinterp; its default would use the "
        "batch size), seed 0 for both (different random streams: the chains agree in "
        "distribution, not bit for bit). Toys from `mdlkit.complexity.toys` (n = 10,000); the "
        f"MLP is trained {MLP_EPOCHS} epochs (Adam, batch 64) on the digits training split.",
        "",
        "The last column checks that the two SGLD steps are the same arithmetic: mdlkit's "
        "`SGLD` and devinterp's, fed the same batches and the same noise (one generator each, "
        "equally seeded), 1000 steps from w*; the largest difference between their weights "
        "(0: bit for bit the same; at γ ≠ 1 the two round the localization term differently, "
        "by float32's last bit).",
        "",
        "| model | setting | same noise: max abs(w_mdlkit − w_devinterp) |",
        "|---|---|---|",
        *settings_rows,
        "",
        "## As a user would call each",
        "",
        "devinterp gets `DataLoader(TensorDataset(x, y), batch_size, shuffle=True)` and measures "
        "L_n(w*) itself. λ̂ ± std over 4 chains (std with n − 1 for both); Δ/σ = (mdlkit − "
        "devinterp) / √(std² + std²): with 4 chains the standard error of the difference is σ/2, "
        "so |Δ/σ| < 1 is within two standard errors. ratio = mdlkit s / devinterp s.",
        "",
        "| model | true λ | mdlkit λ̂ | devinterp λ̂ | Δ/σ | mdlkit s | devinterp s | ratio |",
        "|---|---|---|---|---|---|---|---|",
        *main_rows,
        "",
        *(
            [
                "A chain that diverges (NaN) ends the whole call in both libraries; the "
                "estimator is then run again at the next seed (the time of the failed attempt "
                "is not in the table):",
                "",
                *retried,
                "",
            ]
            if retried
            else []
        ),
        "## The sampling loops alone",
        "",
        "devinterp with a dataset that a DataLoader indexes once per batch (`__getitems__`, as "
        "mdlkit's `ShuffledBatches` does) and L_n(w*) over all samples passed as `init_loss`: "
        "the same conventions and data path as mdlkit. mdlkit's columns are the runs above.",
        "",
        "| model | devinterp (batched) λ̂ | Δ/σ | mdlkit s | devinterp (batched) s | ratio |",
        "|---|---|---|---|---|---|",
        *loop_rows,
        "",
        "## L_n(w*): the one convention that differs",
        "",
        "mdlkit measures L_n(w*) over all n samples. devinterp 1.3.2 "
        "(`estimate_learning_coeff_with_summary` → `get_init_loss_multi_batch(loader, "
        "num_chains)`) takes the mean loss of the first min(chains, batches per epoch) batches "
        "of the user's loader — shuffled, so random batches (its docstring says the first "
        "batch), and its `seed` is not passed to this draw, so the value changes from call to "
        "call. With a full batch that is all samples (differences are float32 summation "
        "order); with minibatches it is 4 × 64 = 256 of the samples. Its λ̂ moves by "
        "shift = nβ·(L_n over all − devinterp's L_n(w*)); ‘spread’ is the std of that shift "
        "over devinterp's random choice of batches (from the per-sample losses at w*); the last "
        "column removes the shift.",
        "",
        "| model | n | nβ | L_n(w*) all samples | devinterp's L_n(w*) | shift of λ̂ | spread | "
        "devinterp λ̂ − shift |",
        "|---|---|---|---|---|---|---|---|",
        *init_rows,
        "",
        "## Reading",
        "",
        f"- Agreement as each is called: |Δ/σ| is {min(gaps):.2f} to {max(gaps):.2f} "
        f"({sum(g < 1 for g in gaps)} of {len(gaps)} rows within two standard errors of the "
        f"difference); at identical conventions (batched table): {min(loop_gaps):.2f} to "
        f"{max(loop_gaps):.2f} ({sum(g < 1 for g in loop_gaps)} of {len(loop_gaps)}).",
        f"- Wall time: mdlkit takes {min(ratios):.3f}× to {max(ratios):.3f}× devinterp's as a "
        f"user calls it, and {min(loop_ratios):.3f}× to {max(loop_ratios):.3f}× devinterp's "
        "sampling loop with batched fetching.",
        "- With a full batch both devinterp runs draw the same random numbers (each chain "
        "reseeds the global generator; the loader takes one seed from it per epoch either way) "
        "and measure the same L_n(w*), so they give the same chains"
        + (
            f" ({', '.join(same_chains)}: per-chain mean losses equal to 1e-6)"
            if same_chains
            else ""
        )
        + ": only the fetching differs. On the MLP the chains are the same too, and the two "
        "λ̂ differ by exactly the L_n(w*) shift.",
        "- Conventions that match (read from devinterp's `optim/sgld.py`, `slt/sampler.py`, "
        "`slt/llc.py`, `backends/default/slt/sampler.py`): the SGLD step "
        "w ← w − (ε/2)·[nβ·∇L_B + γ·(w − w*)] + √ε·N(0, 1) (`lr` = ε, `localization` = γ, "
        "`nbeta` = nβ, `noise_level` 1, no weight decay; `temperature` is the deprecated name "
        "of nβ) on the gradient of the batch's MEAN loss (what `evaluate` returns); the loss "
        "recorded for a draw is that of the step's own forward pass, before the update; draws "
        "are the steps after burn-in; λ̂ per chain = nβ·(mean over draws − L_n(w*)), averaged "
        "over chains. devinterp's `SGLD` (the default `sampling_method` of 1.3.2) warns that "
        "it is deprecated in favour of `SGMCMC.sgld`.",
        "- Conventions that differ, none in the maths of the chain: L_n(w*) (table above); the "
        "std across chains (devinterp n − 1, mdlkit's `LLCResult.std` n: × 0.866 at 4 chains; "
        "this file uses n − 1 for both); devinterp samples in train mode, mdlkit in eval mode "
        "(no dropout or batch norm here, so the same function).",
        *(
            [
                "- Divergence on the normal crossing: f = x·w1·w2² gives the sampler the "
                "curvature nβ·w2⁴·mean(x²) along w1, and the step is unstable once ε times the "
                "curvature exceeds 4, i.e. once the chain wanders to |w2| > (4 / (ε·nβ))^¼ = "
                f"{edge:.2f} at ε = {step:g}: the chain then explodes within a few steps. "
                "Which chain gets there is luck of the random stream; the two SGLD steps are "
                f"the same (first table), so ε = {step:g} is at the edge for this toy in "
                "either library.",
            ]
            if any("normal-crossing" in line for line in retried)
            else []
        ),
        "- mdlkit's warnings: " + ("; ".join(flagged) if flagged else "none") + ".",
        "- devinterp's warnings (recorded, not shown during the run): "
        + " · ".join(f"“{w}”" for w in sorted(caught))
        + ".",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
