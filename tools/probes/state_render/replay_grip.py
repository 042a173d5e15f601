"""Replay the stores' episodes (seed + recorded actions) to read the grip point's position at every row."""

import os
import sys

import numpy as np

os.environ.setdefault("MUJOCO_GL", "egl")
import gymnasium as gym, cosmos_sim  # noqa
from cosmos_sim.data.store import TrajectoryStore

path, out = sys.argv[1:]
s = TrajectoryStore.open(path)
kw = {k: v for k, v in s.attrs["env_kwargs"].items() if k != "maps"}
env = gym.make(s.attrs["env_id"], **kw).unwrapped
act = s.read("action", 0, s.n_steps)
block = s.read("objects/red_block/pos", 0, s.n_steps)
ends = s.episode_ends
starts = np.concatenate([[0], ends[:-1]])
grip = np.zeros((s.n_steps, 3), np.float32)
err = 0.0
for e, (a, b) in enumerate(zip(starts, ends, strict=True)):
    env.reset(seed=int(s.episode_seeds[e]))
    for t in range(a, b):
        grip[t] = env.grip_pos()
        err = max(err, float(np.abs(env.object_states()["red_block"]["pos"] - block[t]).max()))
        if t < b - 1:
            env.step(act[t])
np.save(out, grip)
print(path, "max block pos mismatch", err)
