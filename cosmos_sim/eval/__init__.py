"""Evaluation: image metrics, physics-alignment metrics, 3D consistency, predictors and open-loop rollouts
on held-out seeds (``HELD_OUT_SEED`` and above are never trained on)."""

from cosmos_sim.data import HELD_OUT_SEED

__all__ = ["HELD_OUT_SEED"]
