"""Fixtures of the policy tests: a trivial continuous task that PPO learns in seconds, a tiny world model."""

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces

TARGET_ID = "cosmos_sim_test/Target-v0"


class TargetEnv(gym.Env):
    """Move to a target: observation = a target in [-1, 1]^2, reward = -|action - target|^2, 4 steps.

    Success when the last action lands within 0.2 of the target. A new target every step, so the
    best policy is the identity map: learnable by PPO in a few thousand steps.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 10}

    def __init__(self, render_mode: str | None = "rgb_array"):
        self.render_mode = render_mode
        self.observation_space = spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32)
        self.action_space = spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32)
        self._target = np.zeros(2, np.float32)
        self._last = np.zeros(2, np.float32)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self._target = self.np_random.uniform(-1, 1, 2).astype(np.float32)
        return self._target.copy(), {}

    def step(self, action):
        action = np.asarray(action, np.float32)
        err = float(np.sum((action - self._target) ** 2))
        info = {"is_success": bool(err < 0.04)}
        self._last = action
        self._target = self.np_random.uniform(-1, 1, 2).astype(np.float32)
        return self._target.copy(), -err, False, False, info

    def render(self):
        img = np.zeros((16, 16, 3), np.uint8)
        x, y = ((self._target + 1) * 7.5).astype(int)
        img[y, x] = 255
        return img


@pytest.fixture(scope="session", autouse=True)
def _register_target_env():
    if TARGET_ID not in gym.registry:
        gym.register(TARGET_ID, entry_point=TargetEnv, max_episode_steps=4)
