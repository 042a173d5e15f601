"""What the trainers share: the learning-rate schedule and the resumable training state on disk."""

from __future__ import annotations

import math
import os
from pathlib import Path

import torch

TRAIN_STATE = "train_state.pt"
"""File beside the fp32 weights in ``OUT/last/``: optimizer, step, sampler streams (resumes the run exactly)."""


def cosine_lr(step: int, lr: float, warmup: int, steps: int) -> float:
    """Linear warm-up over ``warmup`` steps, then cosine decay from ``lr`` to ``lr / 20`` at ``steps``."""
    if step < warmup:
        return lr * (step + 1) / warmup
    frac = (step - warmup) / max(1, steps - warmup)
    return lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(frac, 1.0))))


def write_train_state(last_dir: Path, state: dict) -> None:
    """Write ``last_dir/train_state.pt`` atomically (a killed run never leaves half a file)."""
    tmp = Path(last_dir) / (TRAIN_STATE + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, Path(last_dir) / TRAIN_STATE)


def read_train_state(last_dir: Path) -> dict | None:
    """The saved training state of ``last_dir``, or None when there is none (a new run)."""
    path = Path(last_dir) / TRAIN_STATE
    return torch.load(path, weights_only=False) if path.is_file() else None


__all__ = ["TRAIN_STATE", "cosine_lr", "read_train_state", "write_train_state"]
