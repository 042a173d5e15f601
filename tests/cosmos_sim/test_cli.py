import pytest

from cosmos_sim.cli import build_parser, main


def test_help_lists_every_command(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    for cmd in ("list-envs", "generate", "export", "bench", "demo"):
        assert cmd in out


def test_list_envs(capsys):
    assert main(["list-envs"]) == 0
    out = capsys.readouterr().out
    assert "cosmos_sim/Manipulation-GT-v0" in out and "cosmos_sim/Physics-Dominoes-GT-v0" in out


def test_resolution_parsing():
    args = build_parser().parse_args(["generate", "--env", "X", "--out", "o.zarr", "--resolution", "96x64"])
    assert args.resolution == (96, 64)
    assert build_parser().parse_args(["generate", "--env", "X", "--out", "o", "--resolution", "32"]).resolution == (32, 32)


def test_bad_resolution_is_a_clear_error(capsys):
    with pytest.raises(SystemExit):
        main(["generate", "--env", "X", "--out", "o.zarr", "--resolution", "big"])
    assert "not WxH" in capsys.readouterr().err


def test_bad_maps_is_a_clear_error_without_traceback(capsys, tmp_path):
    code = main(["generate", "--env", "cosmos_sim/Physics-FreeFall-GT-v0", "--out", str(tmp_path / "s.zarr"),
                 "--maps", "depth,normals"])
    assert code == 2
    assert "unknown control map" in capsys.readouterr().err


def test_env_kwargs_must_be_a_json_object(capsys):
    args = build_parser().parse_args(["generate", "--env", "X", "--out", "o", "--env-kwargs", '{"n_objects": 3}'])
    assert args.env_kwargs == {"n_objects": 3}
    with pytest.raises(SystemExit):
        main(["generate", "--env", "X", "--out", "o", "--env-kwargs", "[1, 2]"])
    assert "must be a JSON object" in capsys.readouterr().err


def test_bench_options_come_from_the_benchmarks_config(monkeypatch, tmp_path, capsys):
    """`bench NAME --flag v` parses a benchmark's Config dataclass; others refuse unknown flags."""
    import dataclasses
    import types

    import cosmos_sim.bench as bench
    from cosmos_sim.bench.common import BenchResult

    @dataclasses.dataclass(frozen=True)
    class Config:
        seeds: int = 2
        """Seeds per case."""
        scenarios: tuple[str, ...] = ("a",)
        """Which cases."""

    seen = {}

    def run(quick=False, out_dir="", config=None):
        seen["config"] = config
        return BenchResult(name="fake", figures={"x": 1.0})

    monkeypatch.setitem(bench.BENCHMARKS, "fake", "fake_bench_module")
    monkeypatch.setitem(__import__("sys").modules, "fake_bench_module", types.SimpleNamespace(Config=Config, run=run))
    assert main(["bench", "fake", "--out", str(tmp_path), "--seeds", "5", "--scenarios", "b", "c"]) == 0
    assert seen["config"] == Config(seeds=5, scenarios=("b", "c"))
    assert main(["bench", "fake", "--help"]) == 0
    assert "Seeds per case" in capsys.readouterr().out
    assert main(["bench", "tokenizer", "--out", str(tmp_path), "--seeds", "5"]) == 2
    assert "takes no options" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["list-envs", "--seeds", "5"])
