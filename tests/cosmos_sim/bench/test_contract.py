"""The one benchmark contract (``cosmos_sim/bench/__init__.py``), checked for every name in ``BENCHMARKS``.

Each benchmark module defines a frozen ``Config`` dataclass whose fields all carry a docstring and a
default (``Config()`` builds; its fields become ``cosmos-sim bench NAME`` flags) and
``run(config, out_dir, quick=False)``; ``run_benchmark`` calls exactly that.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import inspect
import textwrap
import typing

import pytest

from cosmos_sim.bench import BENCHMARKS, benchmark_module, run_benchmark
from cosmos_sim.bench.common import BenchResult
from cosmos_sim.cli.dataclass_cli import add_dataclass_arguments, dataclass_from_namespace

P = inspect.Parameter


def field_docstrings(cls: type) -> dict[str, str]:
    """Field name -> the string literal right under its annotated assignment in the class body (from the source)."""
    (node,) = ast.parse(textwrap.dedent(inspect.getsource(cls))).body
    assert isinstance(node, ast.ClassDef) and node.name == cls.__name__
    docs = {}
    for stmt, nxt in zip(node.body, [*node.body[1:], None], strict=True):
        if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
            doc = (
                nxt.value.value if isinstance(nxt, ast.Expr) and isinstance(nxt.value, ast.Constant) else None
            )
            docs[stmt.target.id] = doc
    return docs


@pytest.fixture(params=sorted(BENCHMARKS))
def module(request):
    return benchmark_module(request.param)


def test_config_is_a_frozen_dataclass_with_a_docstring_per_field(module):
    cls = getattr(module, "Config", None)
    assert inspect.isclass(cls) and dataclasses.is_dataclass(cls), (
        f"{module.__name__} has no Config dataclass"
    )
    assert cls.__dataclass_params__.frozen, f"{module.__name__}.Config is not frozen"
    assert inspect.getdoc(cls), f"{module.__name__}.Config has no class docstring"
    docs = field_docstrings(cls)
    for f in dataclasses.fields(cls):
        doc = docs.get(f.name)
        assert isinstance(doc, str) and doc.strip(), (
            f"{module.__name__}.Config.{f.name} has no docstring under it"
        )


def test_config_builds_with_defaults_and_round_trips_through_its_flags(module):
    cfg = module.Config()
    fields = dataclasses.fields(cfg)
    if fields:
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(cfg, fields[0].name, getattr(cfg, fields[0].name))
    # `cosmos-sim bench NAME --help` lists one flag per field; no flags given = the defaults
    parser = argparse.ArgumentParser()
    add_dataclass_arguments(parser, module.Config)
    defaults = parser.parse_args([])
    assert set(vars(defaults)) == {f.name for f in fields}
    assert dataclass_from_namespace(module.Config, defaults) == cfg


def test_run_has_the_one_signature(module):
    params = list(inspect.signature(module.run).parameters.values())
    assert [(p.name, p.kind, p.default) for p in params] == [
        ("config", P.POSITIONAL_OR_KEYWORD, P.empty),
        ("out_dir", P.POSITIONAL_OR_KEYWORD, P.empty),
        ("quick", P.POSITIONAL_OR_KEYWORD, False),
    ], f"{module.__name__}.run{inspect.signature(module.run)}"
    hints = typing.get_type_hints(module.run)
    assert hints == {"config": module.Config, "out_dir": str, "quick": bool, "return": BenchResult}


def test_run_benchmark_calls_run_with_the_config_out_dir_and_quick(tmp_path, monkeypatch):
    envs = benchmark_module("envs")
    calls = []

    def run(config, out_dir, quick=False):
        calls.append((config, out_dir, quick))
        return BenchResult(name="envs", figures={"x": 1.0})

    monkeypatch.setattr(envs, "run", run)
    run_benchmark("envs", str(tmp_path), quick=True)
    cfg = envs.Config(steps=3)
    run_benchmark("envs", str(tmp_path), config=cfg)
    assert calls == [(envs.Config(), str(tmp_path), True), (cfg, str(tmp_path), False)]
    assert (tmp_path / "envs.json").is_file() and (tmp_path / "envs.md").is_file()
    with pytest.raises(ValueError, match=r"takes a cosmos_sim\.bench\.envs\.Config, got a Config"):
        run_benchmark("envs", str(tmp_path), config=benchmark_module("curate").Config())


@pytest.mark.parametrize(
    ("name", "kwargs", "match"),
    [
        ("envs", {"steps": 0}, r"bench envs: steps = 0, expected a value >= 1; pass --steps with"),
        ("envs", {"cases": ("nope",)}, r"cases = \('nope',\), expected names from manipulation"),
        ("curate", {"seconds": 0.0}, r"bench curate: seconds = 0.0, expected a length > 0; pass --seconds"),
        (
            "wfm",
            {"speed_batches": (1, 0)},
            r"speed_batches = \(1, 0\), expected one or more values, each >= 1",
        ),
        ("driving", {"threads": -1}, r"bench driving: threads = -1, expected a value >= 0; pass --threads"),
        (
            "dream-to-real",
            {"learning_rate": 0.0},
            r"learning_rate = 0.0, expected a rate > 0; pass --learning-rate",
        ),
        ("physics", {"horizon": 0}, r"must both be >= 1; pass --context and --horizon"),
        ("byo-env", {"size": 60}, r"bench byo-env: size = 60, expected a multiple of 8 .*; pass --size"),
        ("byo-env", {"patch": 0}, r"bench byo-env: patch = 0, expected a value >= 1; pass --patch"),
    ],
)
def test_a_bad_option_is_refused_when_the_config_is_built(name, kwargs, match):
    with pytest.raises(ValueError, match=match):
        benchmark_module(name).Config(**kwargs)
