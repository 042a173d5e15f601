"""Evaluation: image metrics, physics-alignment metrics, 3D consistency, predictors and open-loop rollouts
on held-out seeds (``HELD_OUT_SEED`` and above are never trained on)."""

HELD_OUT_SEED = 100_000
"""First seed of the held-out episodes every benchmark and evaluation uses; training data stays below it."""
