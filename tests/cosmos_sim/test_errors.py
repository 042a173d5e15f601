"""cosmos_sim.errors and how `cosmos-sim` reports errors: user errors as one line, bugs with their traceback."""

import numpy as np
import pytest

import cosmos_sim.cli as cli
from cosmos_sim.cli import main
from cosmos_sim.errors import CheckpointError, ConfigError, CosmosSimError, StoreError, StoreNotFoundError


def test_every_error_is_a_value_error_with_a_docstring():
    for cls in (CheckpointError, StoreError, ConfigError):
        assert issubclass(cls, CosmosSimError) and issubclass(cls, ValueError) and cls.__doc__
    assert issubclass(CosmosSimError, ValueError) and not issubclass(CosmosSimError, OSError)
    # A missing store is a StoreError and still the FileNotFoundError it was before.
    assert issubclass(StoreNotFoundError, StoreError) and issubclass(StoreNotFoundError, FileNotFoundError)
    with pytest.raises(ValueError, match="kept message"):
        raise ConfigError("kept message")


def _raising(exc):
    def command(args):
        raise exc

    return command


def test_a_user_error_is_one_line_with_exit_code_2(monkeypatch, capsys):
    monkeypatch.setattr(cli, "_cmd_list_envs", _raising(ConfigError("--episodes must be >= 1, got 0")))
    assert main(["list-envs"]) == 2
    err = capsys.readouterr().err
    assert err == "cosmos-sim list-envs: error: --episodes must be >= 1, got 0\n"


@pytest.mark.parametrize(
    "exc",
    [
        TypeError("unsupported operand"),
        IndexError("index 3 is out of bounds"),
        KeyError("rgb"),
        FileNotFoundError("assets/missing.json"),
    ],
)
def test_a_bug_leaves_main_with_its_traceback(monkeypatch, exc):
    monkeypatch.setattr(cli, "_cmd_list_envs", _raising(exc))
    with pytest.raises(type(exc)):
        main(["list-envs"])


def test_a_bare_value_error_from_the_work_is_a_bug_not_a_user_error(monkeypatch, tmp_path):
    """Only a command's validation step turns bare ValueErrors into one-liners; numpy's inside the work is a bug."""
    import cosmos_sim.data.generate as generate

    def broken(cfg):
        np.zeros(4).reshape(3)  # ValueError: cannot reshape array of size 4 into shape (3,)

    monkeypatch.setattr(generate, "generate", broken)
    with pytest.raises(ValueError, match="cannot reshape") as e:
        main(["generate", "--env", "cosmos_sim/Physics-FreeFall-GT-v0", "--out", str(tmp_path / "s.zarr")])
    assert not isinstance(e.value, CosmosSimError)


def test_debug_shows_the_traceback_of_a_user_error(monkeypatch, capsys):
    monkeypatch.setattr(cli, "_cmd_list_envs", _raising(StoreError("trajectory store x is corrupt")))
    assert main(["--debug", "list-envs"]) == 2
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and "cosmos_sim.errors.StoreError" in err
    assert err.endswith("cosmos-sim list-envs: error: trajectory store x is corrupt\n")


def test_store_problems_reach_the_user_as_one_line(tmp_path, capsys):
    assert main(["export", str(tmp_path / "missing.zarr"), "--out", str(tmp_path / "e.gif")]) == 2
    assert "export: error: no trajectory store at" in capsys.readouterr().err
    (tmp_path / "plain").mkdir()
    assert main(["export", str(tmp_path / "plain"), "--out", str(tmp_path / "e.gif")]) == 2
    err = capsys.readouterr().err
    assert "not a trajectory store" in err and len(err.splitlines()) == 1


def test_validation_step_errors_of_other_modules_stay_one_line(tmp_path, capsys):
    """parse_maps (envs/control_maps.py) still raises a bare ValueError; generate's validation step reports it."""
    assert (
        main(
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
        == 2
    )
    err = capsys.readouterr().err
    assert "unknown control map" in err and "Traceback" not in err and not (tmp_path / "s.zarr").exists()
