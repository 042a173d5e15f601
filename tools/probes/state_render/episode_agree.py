"""Probe: over whole expert episodes (60 steps, as `bench wfm`'s goal_agreement), does the block end in the goal
disc in the model whenever it does in the scene? The state model (hand xyz + block xy) is rolled open loop with the
expert's actions from the true first state (pred) and from what manip-state-nano reads off the first frame (est);
its verdict is the task's rule on its last state. With MODEL, the renderer draws the last frame from that state and
the verdict is `bench wfm`'s rule on pixels (`block_in_goal`: the block colour's centroid, on the table, within the
goal radius of the goal disc's centroid).

    python tools/probes/state_render/episode_agree.py FIRST_SEED N [MODEL] [POLICY]   (POLICY: expert, noisy-expert)
"""

import os
import sys

import numpy as np
import torch

os.environ.setdefault("MUJOCO_GL", "egl")
torch.set_num_threads(1)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gymnasium as gym
import mapdit
from fc_rollout import render_loop

from cosmos_sim.bench.wfm import block_in_goal
from cosmos_sim.eval.rollouts import gt_rollouts
from cosmos_sim.policies import make_policy
from cosmos_sim.train.proprio import rollout
from cosmos_sim.world_models.proprio import ProprioModel
from cosmos_sim.world_models.state_estimator import StateEstimator
from cosmos_sim.world_models.wfm import WorldModel

STEPS = 60  # bench wfm's reward_steps
WORK = os.environ.get("PROBE_WORK", "runs/state_render")
first, n = int(sys.argv[1]), int(sys.argv[2])
model = sys.argv[3] if len(sys.argv) > 3 and sys.argv[3] != "-" else None
policy = sys.argv[4] if len(sys.argv) > 4 else "expert"
seeds = list(range(first, first + n))
sm = ProprioModel.from_pretrained(f"{WORK}/state", device="cpu")
est = StateEstimator.from_pretrained("manip-state-nano", device="cpu")
cols = [est.names.index(n) for n in mapdit.STATE]
cam = np.load(f"{WORK}/cam.npz")


env = gym.make("cosmos_sim/Manipulation-GT-v0").unwrapped  # replays each episode for its true states
radius = env.config.goal_radius
g = gt_rollouts(policy, seeds, steps=STEPS, segs=True)
gt_done = g["success"][:, -1]
starts, goals, ends_true, block_z = [], [], [], []
for i, s in enumerate(seeds):
    pol = make_policy(policy, env, s)
    obs, _ = env.reset(seed=s)
    block = env.object_states()["red_block"]["pos"]
    starts.append(np.concatenate([env.grip_pos(), block[:2]]))
    block_z.append(block[2])
    goals.append(env._goal[:2].copy())
    for t in range(STEPS):
        act = np.asarray(pol(obs, env), dtype=np.float32)
        assert np.allclose(act, g["actions"][i, t])
        obs, *_ = env.step(act)
    ends_true.append(env.object_states()["red_block"]["pos"][:2].copy())
print(f"{policy}, seeds {seeds[0]}..{seeds[-1]}: GT success at step {STEPS} {gt_done.mean():.3f}")
print(
    f"  the pixel rule on GT frames agrees with GT: {(block_in_goal(g['frames'][:, -1], g, radius) == gt_done).mean():.3f}"
)
wm = WorldModel.from_pretrained(model) if model else None
if wm is not None:
    wm.eval()
for name in ("pred", "est"):
    ends, tails = [], []
    for i in range(n):
        s0 = starts[i] if name == "pred" else est.predict(g["frames"][i, 0])[cols]
        end = rollout(sm, np.asarray(s0, np.float32)[None], g["actions"][i].astype(np.float32), STEPS)[-1]
        ends.append(end)
        hand, blk = end[None, :3].astype(np.float64), np.array([[end[3], end[4], block_z[i]]])
        tails.append(mapdit.tail(hand, blk, cam)[0])
    ends = np.asarray(ends)
    verdict = np.linalg.norm(ends[:, 3:5] - np.asarray(goals), axis=1) <= radius
    err = 100 * np.linalg.norm(ends[:, 3:5] - np.asarray(ends_true), axis=1)
    line = (
        f"{name}: state verdict success {verdict.mean():.3f}, agreement {(verdict == gt_done).mean():.3f}; "
        f"block error at step {STEPS} {err.mean():.2f} cm (median {np.median(err):.2f}, max {err.max():.2f})"
    )
    if wm is not None:  # render only the last frame: the renderer needs nothing but the state
        acts = np.concatenate([g["actions"][:, -1], np.asarray(tails, np.float32)], 1)[:, None]
        last = render_loop(wm, g["frames"][:, 0], acts.astype(np.float32))[:, -1]
        line += f"; frame verdict agreement {(block_in_goal(last, g, radius) == gt_done).mean():.3f}"
    print("  " + line, flush=True)
    if wm is not None and len(sys.argv) > 5 and name == "pred":  # GT | rendered last frames of 8 episodes
        from PIL import Image

        img = np.concatenate(
            [np.concatenate(list(g["frames"][:8, -1]), 1), np.concatenate(list(last[:8]), 1)], 0
        )
        Image.fromarray(img).resize((img.shape[1] * 2, img.shape[0] * 2), Image.NEAREST).save(sys.argv[5])
