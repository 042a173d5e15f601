"""Would more training looks teach the estimator the held-out coffee look? (issue 17, session 20)

In coffee every estimator reads the block as a near-constant, those trained on GT randomized looks included: the
question is whether that is the five training looks' narrowness (then more Transfer domains are the lever) or the
estimator's. This records ``PROBE_EPISODES`` push episodes (seeds 9000.., the probe's default store's seeds) under
"randomized" with six more photo-textured table looks added to the training looks IN THIS PROCESS ONLY (the package's
looks are unchanged; gravel and coffee stay held out), fine-tunes ``manip-state-nano`` on the default episodes plus
them (train.sh's settings), and prints the block / goal / hand errors on the held-out stores of ``data.sh``.

    PROBE_WORK=runs/ds_probe python tools/probes/domain_shift_perception/more_looks.py
"""

import json
import os

import numpy as np
import torch

from cosmos_sim.data.generate import GenerateConfig, generate
from cosmos_sim.envs import appearance
from cosmos_sim.train import state_estimator
from cosmos_sim.train.state_estimator import load_pairs
from cosmos_sim.world_models.state_estimator import StateEstimator

NAMES = ("ee_x", "ee_y", "ee_z", "goal_x", "goal_y", "red_block_x", "red_block_y")
EXTRA = {  # name: (table texture, table tint, floor texture, floor tint, arm colour, light, ambient)
    "astro": (
        "astronaut",
        (0.9, 0.9, 0.9),
        "camera",
        (0.5, 0.5, 0.5),
        (0.7, 0.7, 0.75),
        (0.6, 0.6, 0.6),
        0.3,
    ),
    "cat": ("chelsea", (1.0, 0.95, 0.9), "clock", (0.5, 0.5, 0.55), (0.5, 0.55, 0.6), (0.7, 0.65, 0.6), 0.3),
    "rocket": ("rocket", (0.9, 0.9, 1.0), "brick", (0.4, 0.4, 0.45), (0.85, 0.8, 0.7), (0.6, 0.6, 0.7), 0.35),
    "stain": (
        "immunohistochemistry",
        (1.0, 0.9, 0.9),
        "moon",
        (0.5, 0.45, 0.45),
        (0.6, 0.7, 0.6),
        (0.65, 0.6, 0.6),
        0.3,
    ),
    "retina": (
        "retina",
        (1.0, 1.0, 1.0),
        "grass",
        (0.35, 0.4, 0.35),
        (0.75, 0.75, 0.8),
        (0.6, 0.55, 0.5),
        0.35,
    ),
    "wheel": (
        "colorwheel",
        (0.9, 0.9, 0.9),
        "camera",
        (0.45, 0.45, 0.5),
        (0.45, 0.45, 0.5),
        (0.6, 0.6, 0.6),
        0.35,
    ),
}
for name, (tex, tint, floor, ftint, arm, light, amb) in EXTRA.items():
    appearance._SOURCES.setdefault(tex, tex)
    appearance._SOURCES.setdefault(floor, floor)
    appearance.DOMAINS[name] = appearance.Domain(tex, tint, floor, ftint, arm, light, amb)
appearance.TRAINING_DOMAINS = (*appearance.TRAINING_DOMAINS, *EXTRA)
appearance.APPEARANCES = (*appearance.APPEARANCES, *EXTRA)

torch.set_num_threads(1)
work = os.environ["PROBE_WORK"]
episodes = int(os.environ.get("PROBE_EPISODES", "240"))
store = f"{work}/more_looks_ps.zarr"
if not os.path.isdir(store):
    generate(GenerateConfig("cosmos_sim/Manipulation-GT-v0", episodes, store, policy="noisy-expert",
                            policy_options={"max_noise": 0.3, "max_random": 0.1}, seed=9000, progress=False,
                            env_kwargs={"obs_mode": "pixels+state", "appearance": "randomized"}))  # fmt: skip
out = f"{work}/est_more_looks"
if not os.path.isdir(f"{out}/best"):
    state_estimator.train(
        state_estimator.Args(data=(f"{work}/default_ps.zarr", store), names=NAMES, out=out,
                             init_from="manip-state-nano", steps=1500, eval_every=1500, threads=1, progress=False)
    )  # fmt: skip
for name in ("est_randomized", "est_transfer", "est_more_looks"):
    if not os.path.isdir(f"{work}/{name}/best"):
        continue
    est, row = StateEstimator.from_pretrained(f"{work}/{name}/best", "cpu"), {}
    for look in ("default", "gravel", "coffee"):
        frames, truth = load_pairs((f"{work}/val_{look}.zarr",), NAMES)
        err = np.abs(est.predict(frames) - truth)
        groups = {"block": [5, 6], "goal": [3, 4], "hand": [0, 1, 2]}
        row[look] = {
            k: round(float(np.linalg.norm(err[:, c], axis=1).mean() * 100), 2) for k, c in groups.items()
        }
    print(name, json.dumps(row), flush=True)
