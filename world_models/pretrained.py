"""One base class for every network saved as a checkpoint directory: ``save_pretrained`` / ``from_pretrained``.

The diffusers ``ModelMixin`` idea. A subclass states what it is and how its config goes to and from
JSON; the base writes and reads the directory (``world_models/checkpoint.py``: ``config.json`` with a
``kind`` + ``model.safetensors``), refuses another kind, a bad config or weights that do not fit (a
``CheckpointError`` naming the file), and resolves shipped names (``assets/<shipped_folder>/<name>``)::

    class Tokenizer(PretrainedModel):
        checkpoint_kind, shipped_folder, label = "tokenizer", "tokenizers", "tokenizer"
        def config_to_json(self) -> dict: ...
        @classmethod
        def config_from_json(cls, data: dict) -> TokenizerConfig: ...

    Tokenizer.from_pretrained("cv4x8x8-nano")   # a shipped name, or any checkpoint directory
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import nn

from cosmos_sim.assets import ASSETS_DIR
from cosmos_sim.errors import CheckpointError, ConfigError
from cosmos_sim.world_models.checkpoint import CONFIG_NAME, WEIGHTS_NAME, load_checkpoint, save_checkpoint


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """ "auto" -> CUDA if available, else CPU; anything else is a torch device that must exist here."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        d = torch.device(device)
    except (RuntimeError, TypeError) as e:
        raise ConfigError(
            f"device {str(device)!r} is not a torch device ({e}); use 'auto', 'cpu' or 'cuda'"
        ) from None
    if d.type == "cuda" and (not torch.cuda.is_available() or (d.index or 0) >= torch.cuda.device_count()):
        raise ConfigError(
            f"device {str(device)!r} is not available here (torch sees {torch.cuda.device_count()} "
            "CUDA devices); use 'auto' or 'cpu'"
        )
    return d


def resolve_pretrained(
    name_or_dir: str | os.PathLike, shipped_folder: str, label: str, hint: str, strict: bool = False
) -> Path:
    """A checkpoint directory from a path, or from a bare name shipped under ``assets/<shipped_folder>/``.

    A local directory wins over a shipped name. A bare name found nowhere is a CheckpointError listing the
    shipped names, ending with ``hint``; so is a path that is not a directory when ``strict`` (otherwise
    it is returned as it is, and loading it names the missing directory).
    """
    path = Path(name_or_dir)
    if path.is_dir():
        return path
    shipped = ASSETS_DIR / shipped_folder
    if len(path.parts) == 1 and (shipped / path).is_dir():
        return shipped / path
    if len(path.parts) != 1 and not strict:
        return path
    available = sorted(p.name for p in shipped.iterdir() if p.is_dir()) if shipped.is_dir() else []
    raise CheckpointError(
        f"{label} checkpoint {str(name_or_dir)!r} is neither a directory nor a shipped name "
        f"(shipped: {available}); {hint}"
    )


class PretrainedModel(nn.Module):
    """A network with a checkpoint directory (see the module docstring for what a subclass provides)."""

    checkpoint_kind: ClassVar[str]
    """The ``kind`` in ``config.json``: a checkpoint of another kind is refused."""
    shipped_folder: ClassVar[str]
    """Folder under ``assets/`` whose sub-directories are the shipped names."""
    label: ClassVar[str]
    """What the model is called in messages ("tokenizer", "world-model" ...)."""
    checkpoint_extra: dict[str, Any]
    """The ``extra`` metadata of the checkpoint the model was loaded from (empty for a model built here)."""

    def __init__(self):
        super().__init__()
        self.checkpoint_extra = {}

    config_class: ClassVar[type | None] = None
    """A dataclass config whose fields are JSON values: then the two methods below need no override."""

    # ---- what a subclass provides ------------------------------------------------------------------
    def config_to_json(self) -> dict[str, Any]:
        """The JSON-able config that ``config_from_json`` and ``from_config`` rebuild this model from."""
        if self.config_class is None:
            raise NotImplementedError
        return dataclasses.asdict(self.config)

    @classmethod
    def config_from_json(cls, data: dict[str, Any]) -> Any:
        """Parse the stored config (TypeError, KeyError or ValueError: the base names the bad file)."""
        if cls.config_class is None:
            raise NotImplementedError
        try:
            return cls.config_class(**data)
        except ConfigError as e:  # the config's own validation: an invalid config file
            raise ValueError(str(e)) from None

    @classmethod
    def from_config(cls, config: Any, directory: Path) -> PretrainedModel:
        """An untrained model of ``config``; ``directory`` is the checkpoint (for parts stored beside it)."""
        return cls(config)

    def checkpoint_state(self) -> dict[str, torch.Tensor]:
        """The tensors ``model.safetensors`` holds (all of them unless a part is stored elsewhere)."""
        return self.state_dict()

    # ---- the directory -----------------------------------------------------------------------------
    def save_pretrained(
        self,
        directory: str | os.PathLike,
        dtype: torch.dtype | None = torch.bfloat16,
        extra: dict[str, Any] | None = None,
    ) -> Path:
        """Write ``config.json`` + ``model.safetensors`` into ``directory`` (floating-point weights cast to
        ``dtype``, bf16 by default: half the size; None keeps them) with free ``extra`` metadata."""
        return save_checkpoint(
            directory,
            self.checkpoint_kind,
            self.config_to_json(),
            self.checkpoint_state(),
            dtype=dtype,
            extra=extra,
        )

    @classmethod
    def resolve_pretrained(cls, name_or_dir: str | os.PathLike) -> Path:
        """The directory ``from_pretrained`` reads for a path or a shipped name."""
        return resolve_pretrained(
            name_or_dir,
            cls.shipped_folder,
            cls.label,
            f"pass the path of a {cls.__name__}.save_pretrained directory",
        )

    @classmethod
    def from_pretrained(cls, name_or_dir: str | os.PathLike, device: str | torch.device = "auto"):
        """Load a checkpoint directory or a shipped name onto ``device`` ("auto": CUDA if present), in eval mode.

        Raises:
            CheckpointError: no such checkpoint, another kind, a missing, truncated or corrupt file, an
                unknown or invalid config, or weights that do not fit the config (the file is named).
            ConfigError: ``device`` is not a device of this machine.
        """
        device = resolve_device(device)
        d = cls.resolve_pretrained(name_or_dir)
        data, state, extra = load_checkpoint(d, cls.checkpoint_kind)
        try:
            config = cls.config_from_json(data)
        except (TypeError, KeyError) as e:
            raise CheckpointError(f"{d / CONFIG_NAME} has an unknown {cls.label} config: {e}") from None
        except ValueError as e:
            raise CheckpointError(f"{d / CONFIG_NAME} has an invalid {cls.label} config: {e}") from None
        model = cls.from_config(config, d)
        model.load_checkpoint_state(state, d / WEIGHTS_NAME)
        model.checkpoint_extra = extra
        return model.to(device).eval()

    def load_checkpoint_state(self, state: dict[str, torch.Tensor], path: Path) -> None:
        """Load stored tensors (bf16 ones back to fp32), refusing any that do not fit this model."""
        own = {k: v.float() if v.is_floating_point() else v for k, v in state.items()}
        try:
            missing, unexpected = self.load_state_dict(own, strict=False)
        except RuntimeError as e:  # shape mismatches
            raise CheckpointError(f"{path} does not match its config: {e}") from None
        stored_here = (
            self.checkpoint_state().keys()
        )  # parts saved elsewhere (a bundle's tokenizer) are not missing
        missing = [k for k in missing if k in stored_here]
        if missing or unexpected:
            raise CheckpointError(
                f"{path} does not match its config: missing {missing[:3]}, unexpected {unexpected[:3]}"
            )


__all__ = ["PretrainedModel", "resolve_device", "resolve_pretrained"]
