"""The whole-episode verdicts of a package bundle, episode by episode (sessions 25-26): 60-step expert episodes on
the GT scene, their actions replayed through `Manipulation-WFM-v0` (`bench wfm`'s `env_open_loop`) twice: with the
bundle's state model, and with the scene's true state at every step (so the renderer alone is judged). Per episode:
the scene's success, the task rule on the model's state, and where `bench wfm`'s frame rule (`block_goal_distance`:
the block's colour centroid met with the block centre's plane) puts the block on the GT frame, on the model's frame
and on the frame drawn from the true state (cm from the true block, and from the goal centre); then agreements and
errors over the episodes.

    python tools/probes/state_render/bundle_verdict.py FIRST_SEED [N] [BUNDLE] [PNG]

(N: 16; BUNDLE: manip-render-fast-nano; PNG: the last frames of the first 8 episodes, rows GT | model | true state;
PROBE_SAMPLER_STEPS=K: K denoiser calls per frame instead of the bundle's.)
"""

import os
import sys
from pathlib import Path

import numpy as np
import torch
from true_state import forced_state, true_states

from cosmos_sim.bench.wfm import block_goal_distance, env_open_loop
from cosmos_sim.envs.manipulation import ManipulationConfig
from cosmos_sim.eval.rollouts import gt_rollouts

torch.set_num_threads(1)
first = int(sys.argv[1]) if len(sys.argv) > 1 else 100100
n = int(sys.argv[2]) if len(sys.argv) > 2 else 16
bundle = Path(sys.argv[3] if len(sys.argv) > 3 else "assets/wfm/manip-render-fast-nano")
seeds = list(range(first, first + n))
sampler_steps = int(os.environ["PROBE_SAMPLER_STEPS"]) if os.environ.get("PROBE_SAMPLER_STEPS") else None
radius = ManipulationConfig().goal_radius
g = gt_rollouts("expert", seeds, steps=60, segs=True)
gt_done = g["success"][:, -1]
pred, _, s = env_open_loop(bundle, seeds, g["actions"], sampler_steps)


def true_state_renders() -> np.ndarray:
    """The bundle's frames drawn from the scene's true state at every step (its state model bypassed)."""
    with forced_state(true_states(seeds, g["actions"])):
        return env_open_loop(bundle, seeds, g["actions"], sampler_steps)[0]


frames = {"gt": g["frames"][:, -1], "model": pred[:, -1], "true state": true_state_renders()[:, -1]}
read = {k: block_goal_distance(v, g) for k, v in frames.items()}
true_xy = g["block_xy"][:, -1]
print("episode, scene success, state verdict; per frame: cm from the true block / cm from the goal centre")
for e in range(n):
    cells = [
        f"{k} {100 * np.linalg.norm(xy[e] - true_xy[e]):5.1f} / {100 * d[e]:5.1f}"
        for k, (xy, d) in read.items()
    ]
    print(f"{seeds[e]} {int(gt_done[e])} {int(s[e, -1])}   " + "   ".join(cells))
print(f"scene success {gt_done.mean():.3f}; state verdict agrees {(s[:, -1] == gt_done).mean():.3f}")
for k, (xy, d) in read.items():
    err = np.linalg.norm(xy - true_xy, axis=1) * 100
    with np.errstate(invalid="ignore"):
        agree = ((d <= radius) == gt_done).mean()
    print(
        f"{k}: frame verdict agrees {agree:.3f}; block error cm median {np.nanmedian(err):.2f}, rms "
        f"{np.sqrt(np.nanmean(err**2)):.2f}, bias x/y {np.nanmean(xy - true_xy, 0).round(4) * 100}"
    )
if len(sys.argv) > 4:
    from PIL import Image

    img = np.concatenate([np.concatenate(list(v[:8]), 1) for v in frames.values()], 0)
    Image.fromarray(img).resize((img.shape[1] * 4, img.shape[0] * 4), Image.NEAREST).save(sys.argv[4])
