"""Sweeps: where many jobs run (in this process, local processes or Ray) and how their records
fill one resumable run folder. Recipes describe the jobs; this layer runs them."""

from mdlkit.sweeps.executors import (
    Executor,
    LocalPoolExecutor,
    RayExecutor,
    SerialExecutor,
    Task,
    check_executor_options,
    default_workers,
    make_executor,
)
from mdlkit.sweeps.jobs import JobOutput, Where, job_checkpoints, open_sweep, run_jobs

__all__ = [
    "Executor",
    "JobOutput",
    "LocalPoolExecutor",
    "RayExecutor",
    "SerialExecutor",
    "Task",
    "Where",
    "check_executor_options",
    "default_workers",
    "job_checkpoints",
    "make_executor",
    "open_sweep",
    "run_jobs",
]
