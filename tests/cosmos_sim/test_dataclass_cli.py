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
    _, ns = _parse(["--data", "x.zarr", "y.zarr", "--levels", "4", "3", "--lr", "0.5", "--family", "b", "--compile"])
    cfg = dataclass_from_namespace(Toy, ns, command="cosmos-sim toy")
    assert cfg == Toy(data=("x.zarr", "y.zarr"), levels=(4, 3), lr=0.5, family="b", compile=True,
                      extra={"command": "cosmos-sim toy"})


def test_defaults_help_required_and_choices(capsys):
    p, ns = _parse(["--data", "x"])
    assert dataclass_from_namespace(Toy, ns).levels == (8, 5) and not hasattr(ns, "extra")
    assert "Learning rate in %. (default 0.001)" in p.format_help()
    assert field_docs(Toy)["family"] == "Which family."
    with pytest.raises(SystemExit):
        _parse([])  # --data is required
    with pytest.raises(SystemExit):
        _parse(["--data", "x", "--family", "c"])
