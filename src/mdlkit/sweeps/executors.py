"""Where a sweep's jobs run: in this process, in a pool of local processes, or on a Ray cluster.

An executor takes tasks — a key, a picklable module-level function and its arguments — and
yields ``(key, result)`` as each task finishes, in whatever order they finish. The list of
tasks may grow while it runs: a task appended to it after a result was yielded (a job that
could only start once another had finished) runs too, in the same pool. It knows nothing
about run folders: the sweep (:mod:`mdlkit.sweeps.jobs`) writes every result from the parent
process, so where a task ran never changes what ends up in the folder.

Every task runs with ``threads`` torch threads (default 1) whichever executor runs it. Float
sums depend on the thread count, so this is what keeps a sweep's results identical whether it
ran serially, in a pool or on Ray; it also keeps two workers on two cores from fighting over
threads.

>>> with make_executor(workers=1) as executor:
...     sorted(executor.run([("a", abs, (-2,)), ("b", abs, (3,))]))
[('a', 2), ('b', 3)]
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import socket
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from types import ModuleType, TracebackType
from typing import Any

import torch

from mdlkit.devices import torch_threads
from mdlkit.errors import MdlkitError

__all__ = [
    "Executor",
    "LocalPoolExecutor",
    "RayExecutor",
    "SerialExecutor",
    "Task",
    "check_executor_options",
    "default_workers",
    "make_executor",
]

Task = tuple[str, Callable[..., Any], tuple[Any, ...]]
"""``(key, function, arguments)``: the function must be importable by name (module level)."""

_CONNECT_TIMEOUT = 5.0  # seconds to reach a Ray address before calling it unreachable


def default_workers() -> int:
    """One worker per core (``os.cpu_count()``)."""
    return os.cpu_count() or 1


def _call_with_threads(threads: int, fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(*args)`` on ``threads`` torch threads, the previous count restored after it."""
    with torch_threads(threads):
        return fn(*args)


class Executor:
    """Runs tasks and yields ``(key, result)`` as they complete; a context manager that
    releases its workers (or its Ray connection) on exit.

    ``remote`` is true when tasks may run on other machines: a sweep then ships its inputs
    (datasets) with the tasks instead of trusting paths. :meth:`share` turns a large argument
    that many tasks take into a handle to pass instead (Ray: an object-store reference).
    """

    remote = False
    description = "executor"

    def run(self, tasks: Sequence[Task]) -> Iterator[tuple[str, Any]]:
        raise NotImplementedError

    def share(self, value: Any) -> Any:
        return value

    def close(self) -> None:
        """Release workers or connections (nothing to release by default)."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()


class SerialExecutor(Executor):
    """Every task in this process, one after the other, in the order given."""

    def __init__(self, *, threads: int = 1) -> None:
        self.threads = threads
        self.description = "serial"

    def run(self, tasks: Sequence[Task]) -> Iterator[tuple[str, Any]]:
        done = 0
        while done < len(tasks):  # len again after each yield: the caller may have added tasks
            key, fn, args = tasks[done]
            done += 1
            yield key, _call_with_threads(self.threads, fn, *args)


class LocalPoolExecutor(Executor):
    """Tasks in up to ``workers`` spawned local processes, started on the first call with more
    than one task and kept for later calls until :meth:`close` (starting one costs seconds:
    torch and mdlkit are imported afresh). A lone task before that runs in this process (tasks
    added after it go to the pool)."""

    def __init__(self, workers: int | None = None, *, threads: int = 1) -> None:
        self.workers = default_workers() if workers is None else workers
        self.threads = threads
        self.description = f"{self.workers} local workers"
        self._pool: ProcessPoolExecutor | None = None

    def run(self, tasks: Sequence[Task]) -> Iterator[tuple[str, Any]]:
        if self.workers == 1:
            yield from SerialExecutor(threads=self.threads).run(tasks)
            return
        submitted = 0
        if self._pool is None and len(tasks) == 1:  # a lone task: here, no pool to start
            key, fn, args = tasks[0]
            submitted = 1
            yield key, _call_with_threads(self.threads, fn, *args)
        if submitted == len(tasks):  # nothing added meanwhile
            return
        if self._pool is None:
            # spawn, not fork: a forked child inherits torch's thread pool and locks mid-state.
            self._pool = ProcessPoolExecutor(
                self.workers,
                mp_context=multiprocessing.get_context("spawn"),
                # torch's own function: pickled by name, it stays the same object even when a
                # test run has imported this module twice (doctests with importlib mode)
                initializer=torch.set_num_threads,
                initargs=(self.threads,),
            )
        futures: dict[Future[Any], str] = {}
        try:
            while submitted < len(tasks) or futures:
                for key, fn, args in tasks[submitted:]:  # the first ones, or tasks added since
                    futures[self._pool.submit(fn, *args)] = key
                submitted = len(tasks)
                finished, _ = wait(futures, return_when=FIRST_COMPLETED)
                for future in finished:
                    yield futures.pop(future), future.result()
        except BrokenProcessPool:
            self._pool = None  # broken for good; the next call starts a new one
            raise MdlkitError(
                "a worker process died (killed, out of memory, or started from a script "
                "without `if __name__ == '__main__':`); workers=1 runs the jobs in this process"
            ) from None
        finally:  # an error or an early stop: queued tasks are not started
            for future in futures:
                future.cancel()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


def _import_ray() -> ModuleType:
    try:
        import ray  # an optional extra: imported only when --ray is given
    except ImportError:
        raise MdlkitError(
            "--ray needs Ray, which is not installed: pip install 'mdlkit[ray]'"
        ) from None
    return ray


def _host_port(address: str) -> tuple[str, int] | None:
    """The host and port to try for ``address`` (``ray://host:port`` or ``host:port``); None
    for ``auto`` and ``local``, which Ray resolves itself."""
    if address in ("auto", "local"):
        return None
    rest = address.removeprefix("ray://")
    host, sep, port = rest.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise MdlkitError(
            f"bad Ray address {address!r}: use auto, local, ray://HOST:PORT or HOST:PORT"
        )
    return host.strip("[]"), int(port)


def _check_reachable(address: str) -> None:
    """Refuse an address nobody answers at within a few seconds: Ray itself would retry for
    minutes before giving up."""
    target = _host_port(address)
    if target is None:
        return
    try:
        socket.create_connection(target, timeout=_CONNECT_TIMEOUT).close()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise MdlkitError(f"cannot reach the Ray cluster at {address}: {reason}") from None


class RayExecutor(Executor):
    """Tasks on a Ray cluster, each reserving ``threads`` CPUs (``num_cpus``) and running on
    that many torch threads.

    ``address``: ``auto`` (a cluster this machine belongs to), ``ray://HOST:10001`` (Ray
    Client), ``HOST:6379``, or ``local`` to start a Ray instance on this machine with
    ``workers`` CPUs (default: all). With ``workers`` set, at most that many tasks are in
    flight at once. If Ray is already initialized in this process, that connection is used
    and left open. Every node needs mdlkit installed (the same version) but not the run
    folder: results come back with the tasks (:mod:`mdlkit.sweeps.jobs`). Datasets are
    shipped with the tasks too (a fit given its data does not look for the data file), so no
    node needs the data files either.
    """

    remote = True

    def __init__(self, address: str, *, workers: int | None = None, threads: int = 1) -> None:
        self.ray = _import_ray()
        self.address = address
        self.workers = workers
        self.threads = threads
        self.description = f"Ray ({address})"
        self._owned = not self.ray.is_initialized()
        if self._owned:
            _check_reachable(address)
            options: dict[str, Any] = {"logging_level": logging.WARNING}
            if address == "local":
                options.update(num_cpus=workers, include_dashboard=False)
            try:
                self.ray.init(address=address, **options)
            except (ConnectionError, ValueError, RuntimeError, TimeoutError) as exc:
                first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
                raise MdlkitError(f"cannot connect to Ray at {address}: {first}") from None
        self._task = self.ray.remote(num_cpus=threads)(_call_with_threads)

    def share(self, value: Any) -> Any:
        return self.ray.put(value)

    def run(self, tasks: Sequence[Task]) -> Iterator[tuple[str, Any]]:
        submitted = 0
        pending: dict[Any, str] = {}
        try:
            while submitted < len(tasks) or pending:
                while submitted < len(tasks) and (
                    self.workers is None or len(pending) < self.workers
                ):
                    key, fn, args = tasks[submitted]
                    submitted += 1
                    # Arguments go one by one: Ray resolves only top-level object references.
                    pending[self._task.remote(self.threads, fn, *args)] = key
                [ready], _ = self.ray.wait(list(pending), num_returns=1)
                key = pending.pop(ready)
                try:
                    result = self.ray.get(ready)
                except self.ray.exceptions.RayTaskError as exc:
                    cause = getattr(exc, "cause", None)
                    if isinstance(cause, MdlkitError):  # a user's mistake: its one line
                        raise cause from None
                    raise
                yield key, result
        finally:
            for ref in pending:
                self.ray.cancel(ref)

    def close(self) -> None:
        if self._owned and self.ray.is_initialized():
            self.ray.shutdown()


def check_executor_options(workers: int | None, ray: str | None) -> None:
    """Refuse ``workers < 1``, a malformed Ray address and ``ray`` without Ray installed,
    without starting anything (whether the cluster answers is checked on connecting)."""
    if workers is not None and workers < 1:
        raise MdlkitError(f"workers must be >= 1, got {workers}")
    if ray is not None:
        _host_port(ray)
        _import_ray()


def make_executor(
    workers: int | None = None, ray: str | None = None, *, threads: int = 1
) -> Executor:
    """The executor the options ask for: Ray at ``ray`` if given (connected now, so an
    unreachable cluster is refused before a sweep writes anything), otherwise ``workers``
    local processes (None: one per core; 1: serially in this process)."""
    check_executor_options(workers, ray)
    if ray is not None:
        return RayExecutor(ray, workers=workers, threads=threads)
    if workers == 1:
        return SerialExecutor(threads=threads)
    return LocalPoolExecutor(workers, threads=threads)
