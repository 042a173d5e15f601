"""Executors: results of every task, a crashing task costs only itself, clear errors."""

from __future__ import annotations

import os
import sys

import pytest

from cosmos_sim.workers import LocalExecutor, RayExecutor, make_executor


def square_or_die(x: int) -> int:
    if x == 3:
        os._exit(1)  # a worker killed mid-task (like a decoder segfault or the OOM killer)
    return x * x


def test_local_processes_return_every_result():
    assert sorted(LocalExecutor(2).imap_unordered(abs, [-3, -1, 2, 0])) == [0, 1, 2, 3]
    assert list(LocalExecutor(1).imap_unordered(abs, [-2, -1])) == [2, 1]  # in-process, in order


def test_a_crashing_task_costs_only_itself():
    out = sorted(LocalExecutor(2).imap_unordered(square_or_die, range(5), on_crash=lambda t, e: -t))
    assert out == [-3, 0, 1, 4, 16]


def test_bad_executor_arguments(monkeypatch):
    with pytest.raises(ValueError, match="executor must be 'local' or 'ray'"):
        make_executor("spark")
    with pytest.raises(ValueError, match="workers must be >= 1"):
        LocalExecutor(0)
    monkeypatch.setattr(sys.modules["__main__"], "__file__", "<stdin>", raising=False)
    with pytest.raises(ValueError, match="cannot re-import the calling script"):
        list(LocalExecutor(2).imap_unordered(abs, [1, 2]))
    monkeypatch.setitem(sys.modules, "ray", None)  # as if Ray were not installed
    with pytest.raises(ValueError, match=r"pip install 'cosmos-sim\[ray\]'"):
        RayExecutor(2)
