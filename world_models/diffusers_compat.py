"""Loading diffusers models from local directories only, on a CPU install without torchvision.

Two things every diffusers-backed module here needs:

- ``import_diffusers()``: ``diffusers`` imported on first use (it takes seconds, so nothing imports it at
  module level), with a refusal that names the install line when it is missing. diffusers'
  ``CosmosTransformer3DModel`` resizes its padding mask with ``torchvision.transforms.functional.resize``
  (nearest neighbour) whenever ``concat_padding_mask`` is on, as in every Cosmos checkpoint; the PyPI
  torchvision wheel is CUDA-linked and breaks ``import transformers`` next to the CPU torch, so where
  torchvision is absent the module gets a stand-in with the same nearest-neighbour resize
  (``torch.nn.functional.interpolate(mode="nearest")``, which is what torchvision calls for tensors).
- ``load_local(cls, directory, subfolder)``: ``cls.from_pretrained(path, local_files_only=True)`` that
  never touches the Hub: a missing directory or weights file is a ``CheckpointError`` naming the path and
  the layout expected (``transformer/`` and ``vae/`` subfolders of a diffusers checkpoint).
"""

from __future__ import annotations

import os
import types
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from cosmos_sim.errors import CheckpointError, ConfigError

#: The diffusers release this code was written and tested against.
DIFFUSERS_VERSION = "0.42.1"
INSTALL_HINT = (
    f"pip install --no-deps diffusers=={DIFFUSERS_VERSION} (its small pure-Python dependencies are already "
    "installed with cosmos-sim); do not install torchvision next to the CPU torch"
)
#: Weight files diffusers writes for one model (single file or sharded index).
WEIGHT_FILES = (
    "diffusion_pytorch_model.safetensors",
    "diffusion_pytorch_model.safetensors.index.json",
    "diffusion_pytorch_model.bin",
)


class _NearestResize:
    """The part of ``torchvision.transforms`` diffusers' Cosmos transformer calls: a nearest-neighbour resize."""

    class InterpolationMode:
        """torchvision's interpolation names (only NEAREST is used)."""

        NEAREST = "nearest"

    class functional:  # noqa: N801  (the name diffusers calls)
        """``transforms.functional.resize`` for ``(N, C, H, W)`` tensors."""

        @staticmethod
        def resize(tensor: torch.Tensor, size: list[int], interpolation: str = "nearest") -> torch.Tensor:
            return F.interpolate(tensor, size=tuple(size), mode="nearest")


def import_diffusers() -> types.ModuleType:
    """``diffusers``, with the torchvision stand-in installed where torchvision is missing (module docstring)."""
    try:
        import diffusers
        from diffusers.models.transformers import transformer_cosmos
    except ImportError as e:
        raise ConfigError(f"the Cosmos diffusers models need diffusers ({e}); {INSTALL_HINT}") from None
    if not hasattr(transformer_cosmos, "transforms"):  # no torchvision: diffusers skipped its import
        transformer_cosmos.transforms = _NearestResize
    return diffusers


def has_weights(path: str | os.PathLike) -> bool:
    """A diffusers model directory: ``config.json`` and one of its weight files."""
    p = Path(path)
    return (p / "config.json").is_file() and any((p / w).is_file() for w in WEIGHT_FILES)


def require_model_dir(directory: str | os.PathLike, subfolder: str = "") -> Path:
    """``directory/subfolder`` when it is a diffusers model folder, else a CheckpointError naming the path,
    the layout expected and how to get the weights (cosmos-sim never downloads them)."""
    path = Path(directory) / subfolder if subfolder else Path(directory)
    if not has_weights(path):
        what = (
            f"the {subfolder}/ folder of a diffusers checkpoint" if subfolder else "a diffusers model folder"
        )
        raise CheckpointError(
            f"{path} is not {what} (expected config.json + diffusion_pytorch_model.safetensors); download the "
            "checkpoint yourself (e.g. `hf download nvidia/Cosmos-Predict2-2B-Video2World --local-dir DIR`) "
            "and pass DIR: cosmos-sim never fetches weights"
        )
    return path


def load_local(cls: type, directory: str | os.PathLike, subfolder: str = "", **kwargs: Any):
    """``cls.from_pretrained`` of a local directory (``subfolder`` in it), never the Hub.

    Raises:
        CheckpointError: the directory or its weights are missing (names the path and the layout), or
            diffusers cannot read them.
    """
    import_diffusers()
    path = require_model_dir(directory, subfolder)
    try:
        return cls.from_pretrained(str(path), local_files_only=True, **kwargs)
    except (OSError, ValueError, RuntimeError) as e:
        raise CheckpointError(f"diffusers could not load {cls.__name__} from {path}: {e}") from None


__all__ = [
    "DIFFUSERS_VERSION",
    "INSTALL_HINT",
    "has_weights",
    "import_diffusers",
    "load_local",
    "require_model_dir",
]
