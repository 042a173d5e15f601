"""Benchmarks: ``cosmos-sim bench <name> --out DIR`` writes ``DIR/<name>.json`` and ``DIR/<name>.md``.

Each benchmark is a module here with ``run(out_dir, quick=False) -> BenchResult``; add new ones to
``BENCHMARKS``. The JSON has the form ``{"name", "figures": {metric: number}, "rows": [...],
"machine": {...}, "command": "..."}``; the latest results the README quotes live in
``benchmarks/`` at the repository root.
"""

from __future__ import annotations

import importlib

from cosmos_sim.bench.common import BenchResult, machine_info, write_result

#: benchmark name -> module implementing ``run``.
BENCHMARKS: dict[str, str] = {
    "envs": "cosmos_sim.bench.envs",
}


def run_benchmark(name: str, out_dir: str, quick: bool = False, command: str = "") -> BenchResult:
    """Run benchmark ``name`` and write its JSON and markdown into ``out_dir``."""
    if name not in BENCHMARKS:
        raise ValueError(f"unknown benchmark {name!r}; available: {sorted(BENCHMARKS)}")
    module = importlib.import_module(BENCHMARKS[name])
    result: BenchResult = module.run(quick=quick)
    result.command = command or f"cosmos-sim bench {name} --out {out_dir}" + (" --quick" if quick else "")
    write_result(result, out_dir)
    return result


__all__ = ["BENCHMARKS", "BenchResult", "machine_info", "run_benchmark", "write_result"]
