"""The whole-episode verdicts of a package bundle, episode by episode (session 25): 60-step expert episodes on the GT
scene, their actions replayed through `Manipulation-WFM-v0` (`bench wfm`'s `env_open_loop`); per episode the scene's
success, the task rule on the model's state, `bench wfm`'s pixel rule (`block_in_goal`) on the model's and on the
scene's last frame, the block pixels found and the centroid distances (px).

    python tools/probes/state_render/bundle_verdict.py FIRST_SEED [BUNDLE]    (16 seeds; BUNDLE: manip-render-fast-nano)
"""

import sys
from pathlib import Path

import numpy as np
import torch

from cosmos_sim.bench.wfm import _block_names, block_in_goal, env_open_loop, gt_rollouts
from cosmos_sim.eval import physics_metrics as pm

torch.set_num_threads(1)
first = int(sys.argv[1]) if len(sys.argv) > 1 else 100100
seeds = list(range(first, first + 16))
model = sys.argv[2] if len(sys.argv) > 2 else "assets/wfm/manip-render-fast-nano"
g = gt_rollouts("expert", seeds, steps=60, segs=True)
pred, r, s = env_open_loop(Path(model), seeds, g["actions"])
gt_done = g["success"][:, -1]
pix = block_in_goal(pred[:, -1], g)
pix_gt = block_in_goal(g["frames"][:, -1], g)
ids = {v: k for k, v in g["labels"].items()}


def d(a, b):
    return None if a is None or b is None else round(float(np.linalg.norm(a - b)), 2)


for e in range(16):
    ref = pm.colour_reference(g["frames"][e, :1], g["segs"][e, :1], g["labels"], _block_names(g["labels"]))
    bp = pm.segment_by_colour(pred[e, -1], ref) > 0
    bg = pm.segment_by_colour(g["frames"][e, -1], ref) > 0
    goal = g["segs"][e, 0] == ids["goal"]
    cp, cg, cgo = pm.centroid(bp), pm.centroid(bg), pm.centroid(goal)
    rad = np.sqrt(goal.sum() / np.pi)
    print(
        e,
        "gt",
        int(gt_done[e]),
        "state",
        int(s[e, -1]),
        "pix",
        int(pix[e]),
        "pixgt",
        int(pix_gt[e]),
        "npx pred/gt",
        int(bp.sum()),
        int(bg.sum()),
        "pred-gt",
        d(cp, cg),
        "pred-goal",
        d(cp, cgo),
        "gt-goal",
        d(cg, cgo),
        "rad",
        round(float(rad), 2),
    )
print("agree pix", (pix == gt_done).mean(), "state", (s[:, -1] == gt_done).mean())
