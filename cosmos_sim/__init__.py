"""cosmos-sim: world foundation models as Gymnasium environments, beside physics ground truth.

Importing this package registers every ``cosmos_sim/...`` Gymnasium id (gymnasium 1.x has no
plugin auto-loading), so ``gym.make("cosmos_sim/Manipulation-GT-v0")`` works after
``import cosmos_sim``.

Without a display (``DISPLAY`` unset) and without a user choice of ``MUJOCO_GL``, MuJoCo renders
headless through EGL: set here, before anything imports mujoco.
"""

import os

if not os.environ.get("DISPLAY"):
    os.environ.setdefault("MUJOCO_GL", "egl")
    os.environ.setdefault("PYOPENGL_PLATFORM", "egl")

from cosmos_sim._moved import install_moved_modules  # noqa: E402
from cosmos_sim.envs import register_envs  # noqa: E402  (after the rendering backend is chosen)

__version__ = "0.1.0"

register_envs()
install_moved_modules()

# The main classes, imported on first use so that `import cosmos_sim` stays cheap (no torch, no zarr).
_LAZY = {
    "TrajectoryStore": "cosmos_sim.data.store",
    "TrajectoryWindowDataset": "cosmos_sim.data.dataset",
    "GenerateConfig": "cosmos_sim.data.generate",
    "generate": "cosmos_sim.data.generate",
    "Tokenizer": "cosmos_sim.world_models.tokenizer",
    "WorldModel": "cosmos_sim.world_models.wfm",
    "HELD_OUT_SEED": "cosmos_sim.data",
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'cosmos_sim' has no attribute {name!r}")


__all__ = ["__version__", "register_envs", *_LAZY]
