"""Benchmarks: ``cosmos-sim bench <name> --out DIR`` writes ``DIR/<name>.json`` and ``DIR/<name>.md``.

The contract, the same for every benchmark (``tests/cosmos_sim/bench/test_contract.py`` checks it):
each is a module here, listed in ``BENCHMARKS``, that defines

- ``Config``: a frozen dataclass with one field per option, each with a default and a docstring
  under it (its ``--help`` line), that checks its values when built (``__post_init__``) and says the
  value, what was expected and the flag to change. A benchmark without options has an empty ``Config``.
  ``cosmos-sim bench NAME --help`` lists the fields as flags (``--field-name``); a benchmark with no
  fields refuses any flag of its own.
- ``run(config: Config, out_dir: str, quick: bool = False) -> BenchResult``: measures, writes any
  pictures into ``out_dir`` (not the JSON or markdown: ``run_benchmark`` does) and returns the
  figures. ``quick`` (``--quick``, a smoke run) may only lower settings of ``config``.

The JSON has the form ``{"name", "figures": {metric: number}, "rows": [...], "machine": {...},
"command": "..."}``; the latest results the README quotes live in ``benchmarks/`` at the repository root.
"""

from __future__ import annotations

import importlib

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
    "byo-env": "cosmos_sim.bench.byo_env",
    "guardrail": "cosmos_sim.bench.guardrail",
    "post-train": "cosmos_sim.bench.post_train",
    "rl-loop": "cosmos_sim.bench.rl_loop",
    "pointcloud": "cosmos_sim.bench.pointcloud",
    "domain-shift": "cosmos_sim.bench.domain_shift",
    "text": "cosmos_sim.bench.text",
    "transfer": "cosmos_sim.bench.transfer",
}


def benchmark_module(name: str):
    """The module implementing benchmark ``name`` (imported on demand: some pull in torch)."""
    if name not in BENCHMARKS:
        raise ValueError(f"unknown benchmark {name!r}; available: {sorted(BENCHMARKS)}")
    return importlib.import_module(BENCHMARKS[name])


def run_benchmark(
    name: str, out_dir: str, quick: bool = False, command: str = "", config=None
) -> BenchResult:
    """Run benchmark ``name`` and write its JSON and markdown into ``out_dir``.

    ``config``: an instance of the module's ``Config`` dataclass (default ``Config()``).
    """
    module = benchmark_module(name)
    if config is not None and not isinstance(config, module.Config):
        raise ValueError(
            f"benchmark {name!r} takes a {module.__name__}.Config, got a {type(config).__qualname__}; "
            f"build its options with {module.__name__}.Config(...)"
        )
    result: BenchResult = module.run(config if config is not None else module.Config(), out_dir, quick)
    result.command = command or f"cosmos-sim bench {name} --out {out_dir}" + (" --quick" if quick else "")
    write_result(result, out_dir)
    return result


__all__ = ["BENCHMARKS", "BenchResult", "benchmark_module", "machine_info", "run_benchmark", "write_result"]
