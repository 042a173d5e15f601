"""Benchmarks: ``cosmos-sim bench <name> --out DIR`` writes ``DIR/<name>.json`` and ``DIR/<name>.md``.

Each benchmark is a module here with ``run(out_dir, quick=False) -> BenchResult``; add new ones to
``BENCHMARKS``. A benchmark with options of its own defines a ``Config`` dataclass (one field per
option, a docstring line each): ``cosmos-sim bench NAME --help`` lists them as flags and ``run``
receives ``config=Config(...)``. The JSON has the form ``{"name", "figures": {metric: number}, "rows": [...],
"machine": {...}, "command": "..."}``; the latest results the README quotes live in
``benchmarks/`` at the repository root.
"""

from __future__ import annotations

import importlib
import inspect

from cosmos_sim.bench.common import BenchResult, machine_info, write_result

#: benchmark name -> module implementing ``run``.
BENCHMARKS: dict[str, str] = {
    "envs": "cosmos_sim.bench.envs",
    "curate": "cosmos_sim.bench.curate",
    "tokenizer": "cosmos_sim.bench.tokenizer",
    "wfm": "cosmos_sim.bench.wfm",
    "driving": "cosmos_sim.bench.driving",
    "dream-to-real": "cosmos_sim.bench.dream_to_real",
    "physics": "cosmos_sim.bench.physics",
}


def benchmark_module(name: str):
    """The module implementing benchmark ``name`` (imported on demand: some pull in torch)."""
    if name not in BENCHMARKS:
        raise ValueError(f"unknown benchmark {name!r}; available: {sorted(BENCHMARKS)}")
    return importlib.import_module(BENCHMARKS[name])


def run_benchmark(name: str, out_dir: str, quick: bool = False, command: str = "", config=None) -> BenchResult:
    """Run benchmark ``name`` and write its JSON and markdown into ``out_dir``.

    ``config``: an instance of the module's ``Config`` dataclass, for benchmarks that have one.
    """
    module = benchmark_module(name)
    params = inspect.signature(module.run).parameters
    kwargs = {"out_dir": out_dir} if "out_dir" in params else {}  # benchmarks that write pictures too
    if config is not None:
        if "config" not in params:
            raise ValueError(f"benchmark {name!r} takes no options")
        kwargs["config"] = config
    result: BenchResult = module.run(quick=quick, **kwargs)
    result.command = command or f"cosmos-sim bench {name} --out {out_dir}" + (" --quick" if quick else "")
    write_result(result, out_dir)
    return result


__all__ = ["BENCHMARKS", "BenchResult", "benchmark_module", "machine_info", "run_benchmark", "write_result"]
