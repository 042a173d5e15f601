"""A push teacher that is smooth in what the clone observes (issue 16, session 24).

The package's expert switches modes (push / lift / fly / descend) at sharp thresholds and turns the gripper's yaw
by a state the clone does not see, so its labels on the clone's states contradict its demonstrations (README.md).
This teacher is a continuous function of (hand xyz, block xy, goal xy) only: it pushes along the block-goal line
from behind and otherwise heads for the point behind the block, its height following a smooth "hill" over and
around the block (flat behind it), every switch a smoothstep. Rotation entries: keep pointing down, never turn
(yaw unobserved); the gripper closed. (The README's "ramp" rows are an earlier version: the expert's own switches
with 1.5 cm smoothsteps; the hill replaced it.)

    python tools/probes/push_dagger/smooth_teacher.py [EPISODES]     # its own success in GT, validation seeds
"""

import os
import sys

import numpy as np

from cosmos_sim.envs.manipulation import WORKSPACE_HIGH, WORKSPACE_LOW
from cosmos_sim.envs.push_task import BLOCK_HALF, Z_SAFE

STEP = 0.02  # the env's max_translation
S_PUSH = BLOCK_HALF + 0.02  # grip point to block centre while pushing
Z_PUSH = WORKSPACE_LOW[2]
RAMP = float(os.environ.get("RAMP", "0.015"))  # width of every blend (m)
HILL_TOP = float(os.environ.get("HILL_TOP", "0.045"))  # radius of the hill's flat top (m)
HILL_SKIRT = float(os.environ.get("HILL_SKIRT", "0.12"))  # its slope's width (m)
LAT = float(os.environ.get("LAT", "0.015"))  # sideways offset up to which it pushes fully


def smoothstep(x, a, b):
    t = np.clip((x - a) / (b - a), 0.0, 1.0)
    return t * t * (3 - 2 * t)


def teacher_move(ee: np.ndarray, block: np.ndarray, goal: np.ndarray) -> np.ndarray:
    """Translation action (3,) in [-1, 1] from the grip point, the block centre and the goal (xy used).

    Pushes along the block-goal line from behind; anywhere else it heads for the point behind the block
    while its height follows a smooth "hill" over and around the block (flat behind it), so there is no
    lift / fly / descend sequence whose switches nearby states disagree on; the blends are smoothsteps."""
    to_goal = goal[:2] - block[:2]
    dist = float(np.linalg.norm(to_goal))
    u = to_goal / max(dist, 1e-9)
    side = np.array([-u[1], u[0]])
    rel = ee[:2] - block[:2]
    r = float(np.linalg.norm(rel))
    along, lateral = float(rel @ u), float(rel @ side)
    phi = abs(float(np.arctan2(-lateral, -along)))  # 0: right behind the block on the push line
    behind = 1 - smoothstep(phi, 0.35, 0.8)
    over = 1 - smoothstep(r, HILL_TOP, HILL_TOP + 0.015)  # above the block (with a margin)
    skirt = 1 - smoothstep(r, HILL_TOP + 0.015, HILL_TOP + HILL_SKIRT)
    hill = over + (1 - over) * skirt * (1 - behind)
    z_want = Z_PUSH + (Z_SAFE - Z_PUSH) * hill
    low = 1 - smoothstep(ee[2], Z_PUSH + 0.01, Z_PUSH + 0.01 + RAMP)
    w_push = (
        (1 - smoothstep(abs(lateral), LAT, LAT + RAMP))
        * (1 - smoothstep(along, -BLOCK_HALF - RAMP, -BLOCK_HALF))
        * low
    )
    push = np.array([*(ee[:2] + u * min(dist + 0.005, STEP) - side * lateral), Z_PUSH])
    pre = np.clip(block[:2] - u * (S_PUSH + 0.01), WORKSPACE_LOW[:2], WORKSPACE_HIGH[:2])
    climb = 1 - smoothstep(z_want - ee[2], 0.02, 0.05)  # far below the hill: climb before moving on
    approach = np.array([*(ee[:2] + climb * (pre - ee[:2])), z_want])
    target = w_push * push + (1 - w_push) * approach
    return np.clip((target - ee) / STEP, -1.0, 1.0)


def teacher_action(env) -> np.ndarray:
    """The full 7-D action in the GT env (``env.unwrapped``: a ManipulationEnv with the push task)."""
    m = env.unwrapped
    move = teacher_move(m.grip_pos(), m.block_pos(0), m._goal)
    tilt = np.clip(-m._rpy[:2] / m.config.max_rotation, -1.0, 1.0)
    return np.array([*move, *tilt, 0.0, 1.0], dtype=np.float32)


if __name__ == "__main__":
    import gymnasium as gym

    import cosmos_sim.envs  # noqa: F401

    n = int(sys.argv[1]) if len(sys.argv) > 1 else 64
    env = gym.make("cosmos_sim/Manipulation-GT-v0", obs_mode="state")
    ok, lens = 0, []
    for seed in range(100500, 100500 + n):
        env.reset(seed=seed)
        done, t = False, 0
        while not done:
            _, _, term, trunc, info = env.step(teacher_action(env))
            done, t = term or trunc, t + 1
        ok += bool(info.get("is_success"))
        lens.append(t)
    print(f"teacher success {ok}/{n} = {ok / n:.3f}, mean length {np.mean(lens):.1f}")
