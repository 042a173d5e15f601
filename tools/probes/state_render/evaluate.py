"""Probe eval: the renderer of state, every step from the first frame; the hand/block positions from GT (oracle),
the state model (pred: started from the true first state; est: started from what manip-state-nano reads off the
first frame) or none (empty maps). Block IoU per step, PSNR, a picture of 4 expert episodes.

    python tools/probes/state_render/evaluate.py MODEL FIRST_SEED oracle|pred|est|none [OUT.png]
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
from replay_arm import arm_state

from cosmos_sim.bench.wfm import _block_metrics
from cosmos_sim.eval.rollouts import gt_rollouts, rollout_metrics
from cosmos_sim.policies import make_policy
from cosmos_sim.train.proprio import rollout
from cosmos_sim.world_models.proprio import ProprioModel
from cosmos_sim.world_models.state_estimator import StateEstimator
from cosmos_sim.world_models.wfm import WorldModel

WORK = os.environ.get("PROBE_WORK", "runs/state_render")  # scratch: packs, runs, the state model
model, first, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
cam = np.load(f"{WORK}/cam.npz")


seeds = list(range(first, first + 16))
wm = WorldModel.from_pretrained(model)
wm.eval()
LAYOUT = 2 if wm.config.dynamics.action_dim == 7 + mapdit.N_TAIL2 else 1
sm = ProprioModel.from_pretrained(f"{WORK}/state{'' if LAYOUT == 1 else 2}", device="cpu")
est = StateEstimator.from_pretrained("manip-state-nano", device="cpu")
est_cols = [est.names.index(n) for n in mapdit.STATE]
env = gym.make("cosmos_sim/Manipulation-GT-v0").unwrapped  # replays each episode for its true states
if LAYOUT == 2:
    cam = np.load(f"{WORK}/cam2.npz")
    if mode == "est":
        raise SystemExit("est: manip-state-nano reads no arm state (layout 1 only)")


def state_of(env):
    blk = env.object_states()["red_block"]["pos"]
    arm = arm_state(env) if LAYOUT == 2 else env.grip_pos()
    return np.concatenate([arm, blk]).astype(np.float64)


def to_tail(st, bz):
    if LAYOUT == 2:
        return mapdit.tail2(st, bz, cam)
    return mapdit.tail(st[:, :3], np.concatenate([st[:, 3:5], bz[:, None]], 1), cam)


for p in ("expert", "random"):
    d = gt_rollouts(p, seeds, steps=16, segs=True)
    extra = []
    for i, s in enumerate(seeds):
        pol = make_policy(p, env, s)
        obs, _ = env.reset(seed=s)
        states = [state_of(env)]  # STATE (layout 1) or STATE2 (layout 2) entries, then the block's height
        for t in range(16):
            act = np.asarray(pol(obs, env), dtype=np.float32)
            assert np.allclose(act, d["actions"][i, t])
            obs, *_ = env.step(act)
            states.append(state_of(env))
        states = np.asarray(states)
        true, bz = states[1:, :-1], states[1:, -1]
        if mode in ("pred", "est"):
            start = states[0, :-1]
            if mode == "est":
                start = est.predict(d["frames"][i, 0])[est_cols]
            true = rollout(sm, start[None].astype(np.float32), d["actions"][i].astype(np.float32), 16)[1:]
            bz = np.full(16, states[0, -1])  # the block's height is the table's in every predicted state
        extra.append(to_tail(true, bz))
    extra = np.asarray(extra, np.float32)
    if mode == "none":  # no positions: the maps are empty
        extra[:] = -100.0
    acts = np.concatenate([d["actions"].astype(np.float32), extra], -1)
    recent = (
        float(os.environ.get("PROBE_RECENT", "0")) > 0
    )  # the variant: its own previous frame in the last slot
    ol = render_loop(wm, d["frames"][:, 0], acts, recent=recent)
    bo = _block_metrics(ol, d)
    print(
        mode,
        p,
        "open  iou",
        np.round(bo["object_iou"], 2).tolist(),
        "cpx16",
        round(float(bo["centroid_px"][-1]), 2),
    )
    print(
        mode,
        p,
        "psnr mean",
        rollout_metrics(ol, d["frames"][:, 1:])["psnr"].mean().round(2),
        flush=True,
    )
    if len(sys.argv) > 4 and p == "expert":  # GT | the shipped manip-dit16r-nano | the renderer, 4 episodes
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        from cosmos_sim.eval.rollouts import open_loop

        ref = open_loop(WorldModel.from_pretrained("manip-dit16r-nano"), d["frames"][:4, 0], d["actions"][:4])
        cols = [0, 4, 8, 12, 16]
        fig, axes = plt.subplots(12, len(cols), figsize=(2 * len(cols), 24))
        for i in range(4):
            srcs = {
                "GT": d["frames"][i],
                "manip-dit16r-nano": np.concatenate([d["frames"][i][:1], ref[i]]),
                "renderer of state": np.concatenate([d["frames"][i][:1], ol[i]]),
            }
            for r, (name, src) in enumerate(srcs.items()):
                for c, t in enumerate(cols):
                    ax = axes[3 * i + r, c]
                    ax.imshow(src[t], interpolation="nearest")
                    ax.set_xticks([])
                    ax.set_yticks([])
                    if c == 0:
                        ax.set_ylabel(name, fontsize=9)
                    if i == 0 and r == 0:
                        ax.set_title(f"step {t}", fontsize=9)
        fig.tight_layout()
        fig.savefig(sys.argv[4], dpi=60)
