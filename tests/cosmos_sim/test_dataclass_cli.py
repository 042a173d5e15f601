import argparse
from dataclasses import dataclass, field

import pytest

from cosmos_sim.cli.dataclass_cli import add_dataclass_arguments, dataclass_from_namespace, field_docs


@dataclass(frozen=True)
class Toy:
    """A toy config."""

    data: tuple[str, ...] = ()
    """Input stores."""
    levels: tuple[int, ...] = (8, 5)
    """Integer tuple."""
    lr: float = 1e-3
    """Learning rate in %."""
    family: str = "a"
    """Which family."""
    compile: bool = False
    """Use torch.compile."""
    extra: dict = field(default_factory=dict)
    """Not a flag."""


def _parse(argv):
    p = argparse.ArgumentParser()
    add_dataclass_arguments(p, Toy, required=("data",), choices={"family": ["a", "b"]})
    return p, p.parse_args(argv)


def test_round_trip_with_types():
    _, ns = _parse(
        ["--data", "x.zarr", "y.zarr", "--levels", "4", "3", "--lr", "0.5", "--family", "b", "--compile"]
    )
    cfg = dataclass_from_namespace(Toy, ns, command="cosmos-sim toy")
    assert cfg == Toy(
        data=("x.zarr", "y.zarr"),
        levels=(4, 3),
        lr=0.5,
        family="b",
        compile=True,
        extra={"command": "cosmos-sim toy"},
    )


def test_defaults_help_required_and_choices(capsys):
    p, ns = _parse(["--data", "x"])
    assert dataclass_from_namespace(Toy, ns).levels == (8, 5) and not hasattr(ns, "extra")
    assert "Learning rate in %. (default 0.001)" in p.format_help()
    assert field_docs(Toy)["family"] == "Which family."
    with pytest.raises(SystemExit):
        _parse([])  # --data is required
    with pytest.raises(SystemExit):
        _parse(["--data", "x", "--family", "c"])


@dataclass(frozen=True)
class Rich:
    """Fields of every kind a command needs."""

    store: str
    """Input store (no default: required)."""
    env_id: str = "A-v0"
    """Env id."""
    env_kwargs: dict = field(default_factory=dict)
    """Env kwargs."""
    max_steps: int | None = None
    """Step cap."""
    workers: int = 2
    """Workers."""
    size: tuple[int, int] | None = None
    """Image size."""


def test_dicts_are_json_optionals_typed_and_overrides():
    p = argparse.ArgumentParser()
    add_dataclass_arguments(
        p,
        Rich,
        positional=("store",),
        flags={"env_id": ("--env", "--env-id")},
        types={"size": lambda t: tuple(int(v) for v in t.split("x"))},
    )
    ns = p.parse_args(
        ["s.zarr", "--env", "B-v0", "--env-kwargs", '{"n": 3}', "--max-steps", "7", "--size", "4x2"]
    )
    assert dataclass_from_namespace(Rich, ns) == Rich("s.zarr", "B-v0", {"n": 3}, 7, 2, (4, 2))
    assert dataclass_from_namespace(Rich, p.parse_args(["s", "--env-kwargs", ""])) == Rich("s")
    for bad in ("[1]", "{bad"):
        with pytest.raises(SystemExit):
            p.parse_args(["s", "--env-kwargs", bad])
    with pytest.raises(SystemExit):
        p.parse_args([])  # the positional store is required


def test_required_without_default_only_and_suppressed_defaults():
    p = argparse.ArgumentParser()
    add_dataclass_arguments(p, Rich, only=("store", "workers"), defaults={"workers": argparse.SUPPRESS})
    assert "Workers. (default 2)" in p.format_help() and "--max-steps" not in p.format_help()
    with pytest.raises(SystemExit):
        p.parse_args([])  # --store has no default
    ns = p.parse_args(["--store", "s"])
    assert not hasattr(ns, "workers") and dataclass_from_namespace(Rich, ns) == Rich("s")
    assert dataclass_from_namespace(Rich, p.parse_args(["--store", "s", "--workers", "5"])).workers == 5
