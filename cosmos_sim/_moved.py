"""Old import paths of modules that moved into sub-packages keep working for one release, with a
DeprecationWarning that names the new path (``import cosmos_sim.store`` gives ``cosmos_sim.data.store``)."""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
import warnings

MOVED = {
    "cosmos_sim.store": "cosmos_sim.data.store",
    "cosmos_sim.dataset": "cosmos_sim.data.dataset",
    "cosmos_sim.generate": "cosmos_sim.data.generate",
    "cosmos_sim.dream": "cosmos_sim.data.dream",
    "cosmos_sim.export": "cosmos_sim.data.export",
    "cosmos_sim.train_tokenizer": "cosmos_sim.train.tokenizer",
    "cosmos_sim.train_wfm": "cosmos_sim.train.wfm",
    "cosmos_sim.metrics": "cosmos_sim.eval.metrics",
    "cosmos_sim.physics_metrics": "cosmos_sim.eval.physics_metrics",
    "cosmos_sim.consistency3d": "cosmos_sim.eval.consistency3d",
    "cosmos_sim.predictors": "cosmos_sim.eval.predictors",
    "cosmos_sim.dataclass_cli": "cosmos_sim.cli.dataclass_cli",
    "cosmos_sim.control_maps": "cosmos_sim.envs.control_maps",
    "cosmos_sim.curate.executor": "cosmos_sim.workers",
    "cosmos_sim.policies.cli": "cosmos_sim.cli.policies",
}
"""Old module name -> where it lives now."""


class _MovedFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Imports an old name as its new module (the same module object, so every name is there)."""

    def find_spec(self, name, path=None, target=None):
        return importlib.util.spec_from_loader(name, self) if name in MOVED else None

    def create_module(self, spec):
        new = MOVED[spec.name]
        warnings.warn(
            f"{spec.name} moved to {new}; the old path will be removed in the next release",
            DeprecationWarning,
            stacklevel=2,
        )
        return importlib.import_module(new)

    def exec_module(self, module):
        pass


def install_moved_modules() -> None:
    """Put the finder on ``sys.meta_path`` once."""
    if not any(isinstance(f, _MovedFinder) for f in sys.meta_path):
        sys.meta_path.append(_MovedFinder())
