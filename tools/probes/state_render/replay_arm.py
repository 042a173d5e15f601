"""Replay the stores' episodes (seed + recorded actions) to read the arm's state at every row: the grip point, the
elbow and the wrist (world xyz), the commanded roll, pitch, yaw and the finger opening -> (N, 13) float32."""

import os
import sys

import numpy as np

os.environ.setdefault("MUJOCO_GL", "egl")
import gymnasium as gym, cosmos_sim  # noqa
from cosmos_sim.data.store import TrajectoryStore

ARM = ("ee_x", "ee_y", "ee_z", "elbow_x", "elbow_y", "elbow_z", "wrist_x", "wrist_y", "wrist_z")
ARM += ("ee_roll", "ee_pitch", "ee_yaw", "gripper_opening")


def arm_state(env) -> np.ndarray:
    return env.arm_state().astype(np.float32)  # ManipulationEnv.arm_state: the order of ARM


if __name__ == "__main__":
    path, out = sys.argv[1:]
    s = TrajectoryStore.open(path)
    kw = {k: v for k, v in s.attrs["env_kwargs"].items() if k != "maps"}
    env = gym.make(s.attrs["env_id"], **kw).unwrapped
    act = s.read("action", 0, s.n_steps)
    block = s.read("objects/red_block/pos", 0, s.n_steps)
    ends = s.episode_ends
    starts = np.concatenate([[0], ends[:-1]])
    arm = np.zeros((s.n_steps, len(ARM)), np.float32)
    err = 0.0
    for e, (a, b) in enumerate(zip(starts, ends, strict=True)):
        env.reset(seed=int(s.episode_seeds[e]))
        for t in range(a, b):
            arm[t] = arm_state(env)
            err = max(err, float(np.abs(env.object_states()["red_block"]["pos"] - block[t]).max()))
            if t < b - 1:
                env.step(act[t])
    np.save(out, arm)
    print(path, "max block pos mismatch", err)
