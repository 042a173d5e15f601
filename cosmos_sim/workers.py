"""Where the per-video work runs: local worker processes (default) or Ray (optional extra).

Both run the same picklable function on the same tasks and yield results as they finish, so the
output does not depend on the executor. Ray is imported only when ``ray`` is asked for.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from typing import Any


class LocalExecutor:
    """``workers`` spawned processes (1: run in this process, easiest to debug).

    If a worker process dies (a decoder crash, the OOM killer), the pool breaks; the tasks not yet
    finished are then run one per fresh process, so only the task that kills its process is lost:
    ``on_crash(task, error)`` gives its result (by default the error is raised).
    """

    def __init__(self, workers: int = 1):
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        self.workers = workers

    def imap_unordered(
        self,
        fn: Callable[[Any], Any],
        tasks: Iterable[Any],
        on_crash: Callable[[Any, BaseException], Any] | None = None,
    ) -> Iterator[Any]:
        tasks = list(tasks)
        if self.workers == 1 or len(tasks) <= 1:
            yield from map(fn, tasks)
            return
        _check_main_importable()
        finished: set[int] = set()
        try:
            with process_pool(self.workers) as pool:
                futures = {pool.submit(fn, t): i for i, t in enumerate(tasks)}
                for f in as_completed(futures):
                    result = f.result()
                    finished.add(futures[f])
                    yield result
        except BrokenProcessPool:
            for i, t in enumerate(tasks):
                if i not in finished:
                    yield self._isolated(fn, t, on_crash)

    @staticmethod
    def _isolated(
        fn: Callable[[Any], Any], task: Any, on_crash: Callable[[Any, BaseException], Any] | None
    ) -> Any:
        with process_pool(1) as pool:
            try:
                return pool.submit(fn, task).result()
            except BrokenProcessPool as e:
                if on_crash is None:
                    raise
                return on_crash(task, e)

    def close(self) -> None:
        pass


def process_pool(workers: int) -> ProcessPoolExecutor:
    """``workers`` spawned processes that die with this one and run one torch thread each (see ``_worker_init``)."""
    # spawn, not fork: the parent may hold threads (zarr, torch, tqdm) that fork would copy half-way
    return ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn"), initializer=_worker_init)


def _worker_init() -> None:
    """In each worker: die when the parent dies (a SIGKILLed parent otherwise leaves its workers waiting
    forever, ~300 MiB each), and one OpenMP/torch thread (workers already fill the cores; more threads per
    process spin against each other)."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    if sys.platform.startswith("linux"):
        import ctypes
        import signal

        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, int(signal.SIGTERM))
        if os.getppid() == 1:  # the parent died before the line above ran
            os._exit(1)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(1)


def _check_main_importable() -> None:
    """Spawned workers re-import ``__main__``; code fed on stdin cannot be, so say so up front."""
    main_file = getattr(sys.modules.get("__main__"), "__file__", None)
    if main_file is not None and not os.path.exists(main_file):
        raise ValueError(
            f"worker processes cannot re-import the calling script ({main_file!r}, e.g. code fed on "
            "stdin): run it from a file (with an `if __name__ == '__main__':` guard) or use workers=1"
        )


class RayExecutor:
    """Tasks as Ray remote functions: a local Ray started here, or an existing cluster at ``address``.

    On a cluster the output directory must be storage every node sees at the same path.
    """

    def __init__(self, workers: int = 1, address: str | None = None):
        try:
            import ray
        except ImportError:
            raise ValueError(
                "the ray executor needs Ray: pip install 'cosmos-sim[ray]' "
                "(or use the default local executor)"
            ) from None
        self._ray = ray
        self._started = not ray.is_initialized()
        if self._started:
            kw: dict[str, Any] = {"address": address} if address else {"num_cpus": workers}
            ray.init(include_dashboard=False, log_to_driver=False, configure_logging=False, **kw)

    def imap_unordered(
        self,
        fn: Callable[[Any], Any],
        tasks: Iterable[Any],
        on_crash: Callable[[Any, BaseException], Any] | None = None,
    ) -> Iterator[Any]:
        remote = self._ray.remote(num_cpus=1, max_retries=0)(fn)
        refs = {remote.remote(t): t for t in tasks}
        pending = list(refs)
        while pending:
            done, pending = self._ray.wait(pending, num_returns=1)
            try:
                yield self._ray.get(done[0])
            except self._ray.exceptions.WorkerCrashedError as e:  # only the task that killed its worker
                if on_crash is None:
                    raise
                yield on_crash(refs[done[0]], e)

    def close(self) -> None:
        if self._started:
            self._ray.shutdown()


def make_executor(kind: str, workers: int = 1, ray_address: str | None = None) -> LocalExecutor | RayExecutor:
    """``"local"`` or ``"ray"``."""
    if kind == "local":
        return LocalExecutor(workers)
    if kind == "ray":
        return RayExecutor(workers, ray_address)
    raise ValueError(f"executor must be 'local' or 'ray', got {kind!r}")
