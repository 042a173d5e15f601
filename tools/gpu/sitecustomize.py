"""The GPU machine has no zarr: the packed data never open a store, so an empty module does."""

import sys
import types

try:
    import zarr  # noqa: F401
except ImportError:  # stores are never opened here: the data come packed
    z, c = types.ModuleType("zarr"), types.ModuleType("zarr.codecs")
    c.BloscCodec, z.codecs = None, c
    sys.modules["zarr"], sys.modules["zarr.codecs"] = z, c

try:
    import mujoco  # noqa: F401
except ImportError:  # no scene is simulated here; model modules import it for the renderers of state only
    sys.modules["mujoco"] = types.ModuleType("mujoco")
