"""A checkpoint directory shared by every network: ``config.json`` + ``model.safetensors``.

``config.json`` holds ``{"kind": ..., "format_version": 1, "config": {...}, "extra": {...}}``;
``kind`` says which class may load it (``"tokenizer"``, ``"wfm"``, ``"policy"``), so loading a
checkpoint of the wrong kind, or a missing, truncated or corrupt file, fails with a
``cosmos_sim.errors.CheckpointError`` naming the file. ``world_models/pretrained.py`` builds the
models' ``save_pretrained`` / ``from_pretrained`` on these two functions.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from cosmos_sim.errors import CheckpointError

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
FORMAT_VERSION = 1


def save_checkpoint(
    directory: str | os.PathLike,
    kind: str,
    config: dict[str, Any],
    state_dict: dict[str, torch.Tensor],
    dtype: torch.dtype | None = None,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write ``config.json`` and ``model.safetensors`` into ``directory`` (created if missing).

    Args:
        directory: output directory.
        kind: what the weights are, checked on load (e.g. ``"tokenizer"``).
        config: JSON-able constructor arguments of the model.
        state_dict: tensors to store.
        dtype: cast floating-point tensors to this dtype (e.g. ``torch.bfloat16``) to save space.
        extra: JSON-able metadata (training step, measured figures, the command that made it ...).
    """
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    tensors = {}
    for name, t in state_dict.items():
        t = t.detach().cpu()
        if dtype is not None and t.is_floating_point():
            t = t.to(dtype)
        tensors[name] = t.contiguous()
    # Write to temporary names, then rename: a crash never leaves a half-written checkpoint.
    tmp_w, tmp_c = out / (WEIGHTS_NAME + ".tmp"), out / (CONFIG_NAME + ".tmp")
    save_file(tensors, str(tmp_w), metadata={"kind": kind})
    meta = {"kind": kind, "format_version": FORMAT_VERSION, "config": config, "extra": extra or {}}
    tmp_c.write_text(json.dumps(meta, indent=2) + "\n")
    # safetensors creates its file private (0600); give the weights the config's umask-honouring mode.
    os.chmod(tmp_w, tmp_c.stat().st_mode & 0o777)
    os.replace(tmp_w, out / WEIGHTS_NAME)
    os.replace(tmp_c, out / CONFIG_NAME)
    return out


def load_checkpoint(
    directory: str | os.PathLike, kind: str, map_location: str | torch.device = "cpu"
) -> tuple[dict[str, Any], dict[str, torch.Tensor], dict[str, Any]]:
    """Read a checkpoint directory written by ``save_checkpoint``.

    Returns:
        ``(config, state_dict, extra)``.

    Raises:
        CheckpointError: a missing directory or file, unreadable JSON, a truncated or corrupt
            safetensors file, or a checkpoint whose ``kind`` is not ``kind``.
    """
    d = Path(directory)
    cpath, wpath = d / CONFIG_NAME, d / WEIGHTS_NAME
    if not d.is_dir():
        raise CheckpointError(
            f"checkpoint directory {d} does not exist (expected {CONFIG_NAME} + {WEIGHTS_NAME})"
        )
    for p in (cpath, wpath):
        if not p.is_file():
            raise CheckpointError(f"checkpoint file {p} is missing")
    try:
        meta = json.loads(cpath.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CheckpointError(
            f"checkpoint file {cpath} is not valid JSON ({e}); it may be truncated"
        ) from None
    if not isinstance(meta, dict) or "kind" not in meta or "config" not in meta:
        raise CheckpointError(
            f"checkpoint file {cpath} lacks the 'kind'/'config' fields of a cosmos_sim checkpoint"
        )
    if meta["kind"] != kind:
        raise CheckpointError(f"{cpath} is a {meta['kind']!r} checkpoint, not a {kind!r} one")
    if meta.get("format_version", 0) > FORMAT_VERSION:
        raise CheckpointError(
            f"{cpath} has format_version {meta['format_version']}; this code reads up to "
            f"{FORMAT_VERSION}: upgrade cosmos-sim"
        )
    try:
        state = load_file(str(wpath), device=str(map_location))
    except (SafetensorError, OSError, ValueError, RuntimeError) as e:
        raise CheckpointError(f"checkpoint file {wpath} is truncated or corrupt ({e})") from None
    return meta["config"], state, meta.get("extra", {})


__all__ = [
    "CONFIG_NAME",
    "FORMAT_VERSION",
    "WEIGHTS_NAME",
    "CheckpointError",
    "load_checkpoint",
    "save_checkpoint",
]
