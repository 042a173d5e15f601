"""cosmos-sim train-policy: flags from both Args dataclasses, each algorithm's defaults, foreign flags refused."""

import argparse

import pytest

import cosmos_sim  # noqa: F401
from cosmos_sim.cli import main
from cosmos_sim.cli.policies import add_train_arguments, train_args_from_namespace
from cosmos_sim.policies import bc, ppo
from cosmos_sim.policies.networks import load_policy

TARGET_ID = "cosmos_sim_test/Target-v0"  # registered by conftest.py


def _parse(argv):
    p = argparse.ArgumentParser()
    add_train_arguments(p)
    return train_args_from_namespace(p.parse_args(argv))


def test_each_algorithm_keeps_its_own_defaults():
    a = _parse(["--algo", "ppo", "--env", TARGET_ID, "--channels", "8", "8"])
    assert isinstance(a, ppo.Args) and a.env_id == TARGET_ID and a.out == "runs/ppo" and a.channels == (8, 8)
    assert a.learning_rate == ppo.Args().learning_rate
    b = _parse(["--algo", "bc", "--data", "x.zarr", "y.zarr"])
    assert isinstance(b, bc.Args) and b.out == "runs/bc" and b.data == ("x.zarr", "y.zarr")
    assert b.learning_rate == bc.Args().learning_rate
    with pytest.raises(ValueError, match="--total-steps do not apply to --algo bc"):
        _parse(["--algo", "bc", "--total-steps", "10"])


def test_the_cli_trains_on_one_torch_thread_unless_told_and_the_library_leaves_the_callers():
    assert _parse(["--algo", "bc"]).threads == 1 and _parse(["--algo", "ppo", "--threads", "2"]).threads == 2
    assert bc.Args().threads == 0 and ppo.Args().threads == 0


def test_cli_trains_ppo_and_records_the_command(tmp_path, capsys):
    out = tmp_path / "p"
    assert (
        main(
            [
                "train-policy",
                "--algo",
                "ppo",
                "--env",
                TARGET_ID,
                "--total-steps",
                "64",
                "--num-envs",
                "4",
                "--num-steps",
                "16",
                "--hidden",
                "8",
                "--no-progress",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    assert "ppo cosmos_sim_test/Target-v0: 64 steps" in capsys.readouterr().out
    extra = load_policy(out).extra
    assert extra["algo"] == "ppo" and extra["command"].startswith("cosmos-sim train-policy --algo ppo")
