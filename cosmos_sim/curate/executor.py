"""Where the per-video work runs: local worker processes (default) or Ray (optional extra).

Both run the same picklable function on the same tasks and yield results as they finish, so the
output does not depend on the executor. Ray is imported only when ``ray`` is asked for.
"""

from __future__ import annotations

import multiprocessing as mp
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from typing import Any


class LocalExecutor:
    """``workers`` spawned processes (1: run in this process, easiest to debug)."""

    def __init__(self, workers: int = 1):
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        self.workers = workers

    def imap_unordered(self, fn: Callable[[Any], Any], tasks: Iterable[Any]) -> Iterator[Any]:
        tasks = list(tasks)
        if self.workers == 1 or len(tasks) <= 1:
            yield from map(fn, tasks)
            return
        # spawn, not fork: the parent may hold threads (zarr, torch, tqdm) that fork would copy half-way
        with ProcessPoolExecutor(self.workers, mp_context=mp.get_context("spawn")) as pool:
            pending = {pool.submit(fn, t) for t in tasks}
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for f in done:
                    yield f.result()

    def close(self) -> None:
        pass


class RayExecutor:
    """Tasks as Ray remote functions: a local Ray started here, or an existing cluster at ``address``.

    On a cluster the output directory must be storage every node sees at the same path.
    """

    def __init__(self, workers: int = 1, address: str | None = None):
        try:
            import ray
        except ImportError:
            raise ValueError("the ray executor needs Ray: pip install 'cosmos-sim[ray]' "
                             "(or use the default local executor)") from None
        self._ray = ray
        self._started = not ray.is_initialized()
        if self._started:
            kw: dict[str, Any] = {"address": address} if address else {"num_cpus": workers}
            ray.init(include_dashboard=False, log_to_driver=False, configure_logging=False, **kw)

    def imap_unordered(self, fn: Callable[[Any], Any], tasks: Iterable[Any]) -> Iterator[Any]:
        remote = self._ray.remote(num_cpus=1, max_retries=0)(fn)
        pending = [remote.remote(t) for t in tasks]
        while pending:
            done, pending = self._ray.wait(pending, num_returns=1)
            yield self._ray.get(done[0])

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
