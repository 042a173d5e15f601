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
    assert build_parser().parse_args(
        ["generate", "--env", "X", "--out", "o", "--resolution", "32"]
    ).resolution == (32, 32)


def test_bad_resolution_is_a_clear_error(capsys):
    with pytest.raises(SystemExit):
        main(["generate", "--env", "X", "--out", "o.zarr", "--resolution", "big"])
    assert "not WxH" in capsys.readouterr().err


def test_bad_maps_is_a_clear_error_without_traceback(capsys, tmp_path):
    code = main(
        [
            "generate",
            "--env",
            "cosmos_sim/Physics-FreeFall-GT-v0",
            "--out",
            str(tmp_path / "s.zarr"),
            "--maps",
            "depth,normals",
        ]
    )
    assert code == 2
    assert "unknown control map" in capsys.readouterr().err


def test_env_kwargs_must_be_a_json_object(capsys):
    args = build_parser().parse_args(
        ["generate", "--env", "X", "--out", "o", "--env-kwargs", '{"n_objects": 3}']
    )
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

    def run(config, out_dir, quick=False):
        seen["config"] = config
        return BenchResult(name="fake", figures={"x": 1.0})

    monkeypatch.setitem(bench.BENCHMARKS, "fake", "fake_bench_module")
    monkeypatch.setitem(
        __import__("sys").modules, "fake_bench_module", types.SimpleNamespace(Config=Config, run=run)
    )
    assert main(["bench", "fake", "--out", str(tmp_path), "--seeds", "5", "--scenarios", "b", "c"]) == 0
    assert seen["config"] == Config(seeds=5, scenarios=("b", "c"))
    assert main(["bench", "fake", "--help"]) == 0
    assert "Seeds per case" in capsys.readouterr().out
    assert main(["bench", "tokenizer", "--out", str(tmp_path), "--seeds", "5"]) == 2
    assert "takes no options" in capsys.readouterr().err
    assert main(["bench", "tokenizer", "--help"]) == 0
    assert "takes no options of its own" in capsys.readouterr().out
    assert (
        main(["bench", "physics", "--out", str(tmp_path), "--horizon", "0"]) == 2
    )  # refused before any work
    assert "pass --context and --horizon" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["list-envs", "--seeds", "5"])


def test_generate_flags_are_the_fields_of_generate_config(capsys):
    import dataclasses

    from cosmos_sim.data.generate import GenerateConfig

    with pytest.raises(SystemExit):
        main(["generate", "--help"])
    out = capsys.readouterr().out
    for f in dataclasses.fields(GenerateConfig):
        assert ("--env" if f.name == "env_id" else "--" + f.name.replace("_", "-")) in out, f.name
    assert "--no-progress" in out and "Cap on env steps per episode" in out  # a field's docstring is its help
    args = build_parser().parse_args(["generate", "--env", "X", "--out", "o.zarr"])
    assert cli_config(args) == GenerateConfig(
        env_id="X", episodes=10, out="o.zarr"
    )  # the defaults users know
    args = build_parser().parse_args(
        [
            "generate",
            "--env",
            "X",
            "--out",
            "o",
            "--episodes",
            "3",
            "--maps",
            "depth, seg,depth",
            "--max-steps",
            "7",
            "--no-progress",
            "--workers",
            "2",
        ]
    )
    assert cli_config(args) == GenerateConfig(
        env_id="X", episodes=3, out="o", maps=("depth", "seg"), max_steps=7, progress=False, workers=2
    )


def cli_config(args):
    from cosmos_sim.cli.dataclass_cli import dataclass_from_namespace
    from cosmos_sim.data.generate import GenerateConfig

    return dataclass_from_namespace(GenerateConfig, args)


@pytest.mark.parametrize(
    "command",
    [
        ["generate", "--env", "X", "--out", "o"],
        ["eval-policy", "--policy", "p", "--env", "X"],
        ["train-policy", "--algo", "ppo"],
    ],
)
def test_env_kwargs_is_a_json_object_in_every_command(command, capsys):
    args = build_parser().parse_args([*command, "--env-kwargs", '{"n_objects": 3}'])
    expected = (
        '{"n_objects": 3}' if command[0] == "train-policy" else {"n_objects": 3}
    )  # ppo.Args keeps JSON text
    if command[0] == "train-policy":
        from cosmos_sim.cli.policies import train_args_from_namespace

        assert train_args_from_namespace(args).env_kwargs == expected
    else:
        assert args.env_kwargs == expected
    for bad, message in (("[1, 2]", "must be a JSON object"), ("{n_objects: 3}", "is not JSON")):
        with pytest.raises(SystemExit) as e:
            main([*command, "--env-kwargs", bad])
        assert e.value.code == 2
        err = capsys.readouterr().err
        assert "argument --env-kwargs" in err and message in err


@pytest.mark.parametrize(
    "command",
    [
        ["generate", "--env", "X", "--out", "o"],
        ["dream", "--from", "X"],
        ["train-tokenizer", "--data", "d"],
        ["train-wfm", "--data", "d", "--tokenizer", "t"],
        ["train-policy", "--algo", "ppo"],
        ["curate", "in", "out"],
        ["paste-backgrounds", "--input", "i", "--out", "o"],
    ],
)
def test_no_progress_wherever_a_command_shows_progress_bars(command):
    assert build_parser().parse_args([*command, "--no-progress"]).progress is False


def test_help_imports_no_heavy_module():
    """`cosmos-sim --help` builds every parser but adds a command's arguments only when it is used."""
    import subprocess
    import sys

    code = (
        "import sys\nfrom cosmos_sim.cli import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "print('HEAVY', sorted(m for m in ('torch', 'zarr', 'cosmos_sim.data.generate') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "HEAVY []" in out and "train-tokenizer" in out
