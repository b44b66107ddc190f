"""Recipe: the seed paper's transformer table (Barth & von Petersenn 2025, Tab. 3) at CPU scale.

For nested prefixes of a text file (default: tinyshakespeare, 100 KB, 300 KB and all 1.1 MB),
train byte-level transformers of several sizes without a penalty and, at the largest size, with
DRR, R-L1 and PMMP (regularize → prune → fine-tune → quantization step), and write each as a
two-part code (:mod:`mdlkit.compression.two_part`): the weight file plus the prefix range-coded
with the DECODED model, decoded back before it is counted. Beside every total: the paper's
convention (4 bytes per nonzero parameter, no index cost, plus the same coded data), and per
prefix xz -9e, zstd -19 (``zstandard``), PPMd (``pyppmd``) and mdlkit's online mode
(``mdlkit.compression.compress``), each skipped with a note when it does not import.

The plot is the U-curve of test loss (bits per byte on the held-out tail of the prefix, which
every run leaves out of training) against nonzero parameters, with isolines of equal
description length, and the model bits against the data bits with lines of equal total.

The paper trains on parts of Wikipedia (hundreds of MB and more) on GPUs; here the data is
1000× smaller and every model is trained for minutes on one CPU thread, which is why the
absolute figures are not the paper's.

Each run's record (and each prefix's baselines) is written when it has finished
(``runs/<key>.json``); calling the recipe again on the resumed folder skips finished runs. The
jobs run in local processes or on a Ray cluster (:mod:`mdlkit.sweeps`), each with
its prefix's bytes, so no worker needs the text file. Seconds are in the records and in
``timings.md``, never in ``table.md``, which depends only on the settings and the data.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Unpack

from mdlkit.compression.benchmark import baseline_sizes
from mdlkit.compression.chunk_codec import decode_two_part, default_chunk
from mdlkit.compression.chunked import chunked_sizes
from mdlkit.compression.two_part import TwoPartPlan, default_alpha, fit_two_part
from mdlkit.devices import resolve_device
from mdlkit.errors import MdlkitError
from mdlkit.report.lm_compression import (
    lm_compression_table,
    lm_compression_timings,
    paper_convention_table,
    plot_lm_compression,
)
from mdlkit.runs import RunFolder
from mdlkit.sweeps import JobOutput, Task, Where, open_sweep, run_jobs

__all__ = [
    "DEFAULT_DATA",
    "LMCompressionExperiment",
    "baselines_job",
    "resolve_text_path",
    "run_lm_compression",
    "two_part_job",
]

DEFAULT_DATA = Path("..") / "shared" / "data" / "text" / "tinyshakespeare.txt"


def resolve_text_path(path: str | None) -> Path:
    """``path``, or ``../shared/data/text/tinyshakespeare.txt`` (relative to the working
    directory) when it exists; never downloads."""
    if path is None:
        if DEFAULT_DATA.is_file():
            return DEFAULT_DATA
        raise MdlkitError(
            f"no text file given and {DEFAULT_DATA} does not exist here; pass --data FILE "
            "(e.g. tinyshakespeare.txt)"
        )
    resolved = Path(path)
    if not resolved.is_file():
        raise MdlkitError(f"text file not found: {resolved}")
    return resolved


@dataclass(frozen=True)
class LMCompressionExperiment:
    """Prefixes, model sizes, methods and the training budget.

    ``prefixes`` are byte counts (0: the whole file); ``sizes`` the d_model of the
    unregularized transformers (``n_layers`` blocks, ``context`` bytes, 4 heads, or fewer for
    narrow ones); the methods run at the largest size. Every run sees ``tokens`` bytes in its
    regularized phase (epochs = tokens / training bytes, at most ``max_epochs``, at least 1),
    then one fine-tuning epoch per fifth of that. ``alpha_scale`` multiplies each method's
    :func:`~mdlkit.compression.two_part.default_alpha`. PMMP trains with ``pmmp_batch_size``
    (None: ``batch_size``): it updates four tensors per parameter every step, which makes its
    batch-8 steps about 6× as slow as plain ones here (the paper: ≤ 1.8× at its batch sizes),
    so it takes fewer, larger steps over the same bytes.

    Sized for one hour on this project's 2-core machine (one training thread).
    """

    data: str
    prefixes: tuple[int, ...] = (100_000, 300_000, 0)
    sizes: tuple[int, ...] = (32, 64, 96)
    methods: tuple[str, ...] = ("drr", "l1", "pmmp")
    alpha_scale: tuple[tuple[str, float], ...] = (("drr", 1.0), ("l1", 1.0), ("pmmp", 10.0))
    n_layers: int = 2
    context: int = 64
    tokens: int = 2_500_000
    max_epochs: int = 16
    batch_size: int = 8
    pmmp_batch_size: int | None = 32
    lr: float = 4e-3
    val_fraction: float = 0.05
    test_fraction: float = 0.1
    ppmd_orders: tuple[int, ...] = (4, 6, 8)
    online: bool = True
    seed: int = 0
    chunk: int = 0
    """bytes per independently coded chunk of the transformers (0: mdlkit's default, 4–64 KiB;
    512: the paper's)"""

    @classmethod
    def quick(cls, data: str) -> LMCompressionExperiment:
        """Seconds: a 20 KB prefix, two tiny sizes, DRR only, the paper's 512-byte chunks."""
        return cls(
            data=data,
            prefixes=(20_000,),
            sizes=(16, 32),
            methods=("drr",),
            n_layers=1,
            context=32,
            tokens=60_000,
            max_epochs=3,
            batch_size=16,
            pmmp_batch_size=None,
            lr=1e-2,
            ppmd_orders=(4,),
            chunk=512,  # 40 chunks coded side by side: an eighth of the steps of 4 KiB chunks
        )

    def jobs(self, length: int) -> list[tuple[str, int, str, int]]:
        """``(key, prefix bytes, method, d_model)`` of every run, smallest prefix first."""
        largest = max(self.sizes)
        jobs = []
        for prefix in self.prefixes:
            n = length if prefix == 0 else min(prefix, length)
            runs = [("none", d) for d in self.sizes] + [(m, largest) for m in self.methods]
            jobs += [(f"{n}-{method}-d{d}", n, method, d) for method, d in runs]
        return jobs

    def plan(self, n: int, method: str, d_model: int) -> TwoPartPlan:
        n_train = round(n * (1 - self.val_fraction - self.test_fraction))
        epochs = max(1, min(self.max_epochs, round(self.tokens / n_train)))
        scale = dict(self.alpha_scale).get(method, 1.0)
        return TwoPartPlan(
            d_model=d_model,
            n_layers=self.n_layers,
            n_heads=max(1, min(4, d_model // 16)),
            context=self.context,
            epochs=epochs,
            finetune_epochs=max(1, epochs // 5),
            stride=self.context // 2,
            chunk=self.chunk or default_chunk(n),
            batch_size=(
                self.pmmp_batch_size
                if method == "pmmp" and self.pmmp_batch_size is not None
                else self.batch_size
            ),
            lr=self.lr,
            alpha=scale * default_alpha(method, n_train),
            val_fraction=self.val_fraction,
            test_fraction=self.test_fraction,
        )


def two_part_job(
    exp: LMCompressionExperiment, data: bytes, method: str, d_model: int, device: str | None
) -> JobOutput:
    """One run: the two-part code of ``data``, decoded back and compared."""
    started = time.perf_counter()
    plan = exp.plan(len(data), method, d_model)
    where = str(resolve_device(device)) if device is not None else None  # on the node itself
    code = fit_two_part(data, method=method, seed=exp.seed, plan=plan, device=where)
    decode_started = time.perf_counter()
    decoded = decode_two_part(code.settings, code.model, code.chunks, code.length)
    decode_seconds = time.perf_counter() - decode_started
    if decoded != data:
        raise RuntimeError(f"two-part code of {len(data)} bytes decoded wrongly (a bug)")
    record = {
        "method": method,
        "d_model": d_model,
        **code.summary(),
        "decode_seconds": decode_seconds,
        "decoded": True,
    }
    return JobOutput(record, seconds=time.perf_counter() - started)


def baselines_job(data: bytes, ppmd_orders: tuple[int, ...], online: bool) -> JobOutput:
    """The classical compressors' sizes of one prefix."""
    started = time.perf_counter()
    sizes, notes = baseline_sizes(data, ppmd_orders=ppmd_orders, online=online)
    record = {"length": len(data), "sizes": sizes, "notes": notes, "chunked": chunked_sizes(data)}
    return JobOutput(record, seconds=time.perf_counter() - started)


def _tasks(exp: LMCompressionExperiment, text: bytes, device: str | None = None) -> list[Task]:
    """Per prefix, smallest first: its baselines, then its runs. A task carries its prefix's
    bytes, so no worker needs the text file."""
    tasks: list[Task] = []
    for key, n, method, d_model in exp.jobs(len(text)):
        if not any(task[0] == f"{n}-baselines" for task in tasks):
            args = (text[:n], exp.ppmd_orders, exp.online)
            tasks.append((f"{n}-baselines", baselines_job, args))
        tasks.append((key, two_part_job, (exp, text[:n], method, d_model, device)))
    return tasks


def run_lm_compression(
    exp: LMCompressionExperiment,
    folder: RunFolder,
    *,
    progress: bool = False,
    **where: Unpack[Where],
) -> str:
    """Run every job not finished yet into ``folder`` (new or resumed), write ``results.json``,
    ``table.md``, ``timings.md`` and ``lm_compression.png``; return the table and the timings.

    The jobs (the runs and each prefix's baselines) go to ``workers`` local processes (None:
    one per core; 1: serially here) or to the Ray cluster at ``ray``; ``table.md`` is the same
    either way."""
    path = resolve_text_path(exp.data)
    text = path.read_bytes()
    with open_sweep(folder, {"experiment": asdict(exp)}, where) as executor:
        tasks = _tasks(exp, text, where.get("device"))
        records = run_jobs(folder, tasks, executor, progress=progress)
    runs = {key: r for key, r in records.items() if not key.endswith("-baselines")}
    baselines = {str(r["length"]): r for key, r in records.items() if key.endswith("-baselines")}
    table = lm_compression_table(runs, baselines, exp.test_fraction)
    table += "\n" + paper_convention_table(runs, baselines)
    timings = lm_compression_timings(runs, baselines)
    folder.write_text("table.md", table)
    folder.write_text("timings.md", timings)
    plot_lm_compression(runs, baselines, folder.path)
    folder.write_results({"runs": runs, "baselines": baselines, "data": str(path)})
    return f"{table}\nSeconds (they depend on the machine and its load):\n\n{timings}"
