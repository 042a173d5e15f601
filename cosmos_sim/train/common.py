"""What the trainers share: the learning-rate schedule, the resumable training state on disk, and the lock
that keeps two runs out of one run directory."""

from __future__ import annotations

import contextvars
import functools
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import torch

from cosmos_sim.errors import ConfigError

try:
    import fcntl
except ImportError:  # pragma: no cover  (Windows: no flock; runs are not locked there)
    fcntl = None

TRAIN_STATE = "train_state.pt"
"""File beside the fp32 weights in ``OUT/last/``: optimizer, step, sampler streams (resumes the run exactly)."""

LOCK_FILE = ".lock"
"""File in ``OUT`` whose exclusive ``flock`` a training run holds; it records the holder's pid."""


def cosine_lr(step: int, lr: float, warmup: int, steps: int) -> float:
    """Linear warm-up over ``warmup`` steps, then cosine decay from ``lr`` to ``lr / 20`` at ``steps``."""
    if step < warmup:
        return lr * (step + 1) / warmup
    frac = (step - warmup) / max(1, steps - warmup)
    return lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(frac, 1.0))))


def write_train_state(last_dir: Path, state: dict) -> None:
    """Write ``last_dir/train_state.pt`` atomically (a killed run never leaves half a file)."""
    tmp = Path(last_dir) / (TRAIN_STATE + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, Path(last_dir) / TRAIN_STATE)


def read_train_state(last_dir: Path) -> dict | None:
    """The saved training state of ``last_dir``, or None when there is none (a new run)."""
    path = Path(last_dir) / TRAIN_STATE
    return torch.load(path, weights_only=False) if path.is_file() else None


# ---- one run per directory ----------------------------------------------------------------------------
class OutDirLock:
    """An exclusive lock on a run directory: ``flock`` on ``OUT/.lock``, a file that names the holder's pid.

    The kernel drops the lock when the holder's descriptor closes, so a run that is killed (SIGKILL, OOM,
    Ctrl-C) never leaves a stale lock: its ``.lock`` file stays behind but locks nothing, and the next run
    takes it over. ``release()`` deletes the file (the directory holds only the run's outputs). A second
    run into the same directory, from any process (or from this one while the first still holds it), fails
    at once with a ``ConfigError`` naming the directory and the pid holding it. Where ``fcntl`` is missing
    (Windows) nothing is locked.
    """

    def __init__(self, out: str | os.PathLike):
        self.out = Path(out)
        self.path = self.out / LOCK_FILE
        self._fd: int | None = None
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            if fcntl is None:  # pragma: no cover
                break
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
                os.close(fd)
                raise ConfigError(
                    f"{self.out} is in use by another training run (pid {holder}, lock {self.path}); wait "
                    "for it to end or stop it, or pass another --out (two runs in one directory would "
                    "overwrite each other's checkpoints and interleave their logs)"
                ) from None
            if self._still_linked(fd):
                break
            os.close(fd)  # the holder released (and deleted) the file between our open and flock: again
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd

    def _still_linked(self, fd: int) -> bool:
        try:
            here, there = os.fstat(fd), os.stat(self.path)
        except FileNotFoundError:
            return False
        return (here.st_dev, here.st_ino) == (there.st_dev, there.st_ino)

    @property
    def held(self) -> bool:
        """Whether this object still holds the lock."""
        return self._fd is not None

    def release(self) -> None:
        """Drop the lock and delete the lock file (idempotent)."""
        if self._fd is not None:
            fd, self._fd = self._fd, None
            try:
                if self._still_linked(fd):  # delete while holding it: a waiting opener then retries
                    os.unlink(self.path)
            finally:
                os.close(fd)  # closing the descriptor drops the flock

    def __del__(self):
        self.release()


_HELD: contextvars.ContextVar[list[OutDirLock] | None] = contextvars.ContextVar(
    "held_out_locks", default=None
)
F = TypeVar("F", bound=Callable)


def lock_out_dir(out: str | os.PathLike) -> OutDirLock:
    """Lock the run directory ``out`` (which must exist) for the rest of the ``@releases_out_dir_locks``
    function calling this (a trainer's ``train``), or raise a ``ConfigError`` naming the pid of the run that
    holds it. The lock is released when that function returns or raises (elsewhere, use ``OutDirLock``)."""
    held = _HELD.get()
    if held is None:
        raise RuntimeError(
            "lock_out_dir() is for @releases_out_dir_locks functions; use OutDirLock elsewhere"
        )
    lock = OutDirLock(out)
    held.append(lock)
    return lock


def releases_out_dir_locks(fn: F) -> F:
    """Decorator of a trainer's ``train``: the ``lock_out_dir`` locks it takes are released when it returns
    or raises (a raised error's traceback would otherwise keep them alive in a notebook or a test)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        held: list[OutDirLock] = []
        token = _HELD.set(held)
        try:
            return fn(*args, **kwargs)
        finally:
            _HELD.reset(token)
            for lock in held:
                lock.release()

    return wrapper  # type: ignore[return-value]


__all__ = [
    "LOCK_FILE",
    "TRAIN_STATE",
    "OutDirLock",
    "cosine_lr",
    "lock_out_dir",
    "read_train_state",
    "releases_out_dir_locks",
    "write_train_state",
]
