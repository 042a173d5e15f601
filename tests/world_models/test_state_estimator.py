"""The nano state estimator: config checks, frames in and state out, resizing, clear errors."""

import numpy as np
import pytest
import torch

from cosmos_sim.errors import ConfigError
from cosmos_sim.world_models.state_estimator import StateEstimator, StateEstimatorConfig

NAMES = ("ee_x", "ee_y")


def _estimator(seed: int = 0) -> StateEstimator:
    torch.manual_seed(seed)
    return StateEstimator(StateEstimatorConfig(NAMES, (0.1, -0.2), (0.05, 0.5), channels=(4, 8)))


def test_bad_configs_name_the_problem():
    with pytest.raises(ConfigError, match="one mean and std per state name, got 2 names, 1 means"):
        StateEstimatorConfig(NAMES, (0.0,), (1.0, 1.0))
    with pytest.raises(ConfigError, match=r"std must be > 0 for every entry, got \(1.0, 0.0\)"):
        StateEstimatorConfig(NAMES, (0.0, 0.0), (1.0, 0.0))
    with pytest.raises(ConfigError, match=r"size 62 must be divisible by 2\*\*2"):
        StateEstimatorConfig(NAMES, (0.0, 0.0), (1.0, 1.0), size=62, channels=(4, 8))


def test_predict_shapes_scale_and_single_frames():
    est = _estimator()
    frames = np.random.default_rng(0).integers(0, 256, (3, 64, 64, 3), dtype=np.uint8)
    out = est.predict(frames)
    assert out.shape == (3, 2) and out.dtype == np.float32 and est.names == NAMES
    with torch.no_grad():  # de-normalised with the config's mean and std
        raw = est(torch.from_numpy(frames).permute(0, 3, 1, 2).float()).numpy()
    np.testing.assert_allclose(out, raw * [0.05, 0.5] + [0.1, -0.2], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(est.predict(frames[1]), out[1], rtol=1e-5, atol=1e-6)
    big = np.repeat(np.repeat(frames, 2, axis=1), 2, axis=2)  # 128x128 frames are resized to 64x64
    assert est.predict(big).shape == (3, 2)


def test_frames_that_are_not_uint8_rgb_are_refused():
    est = _estimator()
    with pytest.raises(ConfigError, match=r"uint8 RGB, got shape \(2, 64, 64, 3\), float32"):
        est.predict(np.zeros((2, 64, 64, 3), np.float32))
    with pytest.raises(ConfigError, match=r"got shape \(2, 64, 64\)"):
        est.predict(np.zeros((2, 64, 64), np.uint8))
