"""The package's shape: cheap import, lazy exports, old import paths that warn, dependencies that point one way."""

import ast
import importlib
import pathlib
import subprocess
import sys
import warnings

import pytest

import cosmos_sim
from cosmos_sim._moved import MOVED

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_import_is_cheap_and_the_main_classes_load_on_first_use():
    code = ("import sys, cosmos_sim; heavy = [m for m in ('torch', 'zarr', 'mujoco') if m in sys.modules]; "
            "print(heavy); cosmos_sim.WorldModel; print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["[]", "True"]
    from cosmos_sim.data.store import TrajectoryStore
    from cosmos_sim.world_models.wfm import WorldModel

    assert cosmos_sim.TrajectoryStore is TrajectoryStore and cosmos_sim.world_models.WorldModel is WorldModel
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        cosmos_sim.Nope  # noqa: B018


@pytest.mark.parametrize("old, new", sorted(MOVED.items()))
def test_old_import_paths_warn_and_give_the_new_module(old, new):
    sys.modules.pop(old, None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        module = importlib.import_module(old)
    assert module is importlib.import_module(new)
    assert any(issubclass(w.category, DeprecationWarning) and new in str(w.message) for w in caught)
