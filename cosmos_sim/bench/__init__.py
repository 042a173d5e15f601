"""Benchmarks: ``cosmos-sim bench <name> --out DIR`` writes ``DIR/<name>.json`` and ``DIR/<name>.md``.

Each benchmark is a module here with ``run(out_dir, quick=False) -> BenchResult``; add new ones to
``BENCHMARKS``. The JSON has the form ``{"name", "figures": {metric: number}, "rows": [...],
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
}


def run_benchmark(name: str, out_dir: str, quick: bool = False, command: str = "") -> BenchResult:
    """Run benchmark ``name`` and write its JSON and markdown into ``out_dir``."""
    if name not in BENCHMARKS:
        raise ValueError(f"unknown benchmark {name!r}; available: {sorted(BENCHMARKS)}")
    module = importlib.import_module(BENCHMARKS[name])
    # Benchmarks that write files beside the JSON (pictures) take out_dir too.
    wants_dir = "out_dir" in inspect.signature(module.run).parameters
    result: BenchResult = module.run(quick=quick, **({"out_dir": out_dir} if wants_dir else {}))
    result.command = command or f"cosmos-sim bench {name} --out {out_dir}" + (" --quick" if quick else "")
    write_result(result, out_dir)
    return result


__all__ = ["BENCHMARKS", "BenchResult", "machine_info", "run_benchmark", "write_result"]
