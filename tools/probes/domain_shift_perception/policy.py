"""Downstream: one push policy acting through each estimator in each look (README.md).

    python tools/probes/domain_shift_perception/policy.py ESTIMATOR ...     (PROBE_WORK: the stores' folder)

Behaviour cloning on the TRUE state of the 60 default-look episodes (``default_ps.zarr``), so every arm has the same
policy and only its eyes differ; it acts through ``Perceived-v0`` (the hand as proprioception, the goal read off the
first frame and held, the block read off every frame by the estimator), mean action, 64 held-out seeds 100000..
per look.
"""

import json
import os
import sys

import numpy as np
import torch

from cosmos_sim.data.store import TrajectoryStore
from cosmos_sim.policies import bc
from cosmos_sim.policies.evaluate import run_episodes
from cosmos_sim.policies.networks import load_policy

NAMES = ["ee_x", "ee_y", "ee_z", "goal_x", "goal_y", "red_block_x", "red_block_y"]
LOOKS = ("default", "gravel", "coffee")


def perceived(estimator: str, look: str) -> dict:
    """Perceived-v0's kwargs: the GT push scene in ``look``, read through ``estimator``."""
    return {
        "env_id": "cosmos_sim/Manipulation-GT-v0",
        "estimator": estimator,
        "env_kwargs": {"appearance": look},
        "proprio": NAMES[:3],
        "static": NAMES[3:5],
        "tracked": NAMES[5:],
    }


torch.set_num_threads(1)
work = os.environ["PROBE_WORK"]
policy_dir = f"{work}/bc_state"
if not os.path.isdir(policy_dir):
    src = TrajectoryStore.open(f"{work}/default_ps.zarr")
    layout = list(src.attrs["state_layout"])
    cols = [layout.index(n) for n in NAMES]
    dst = TrajectoryStore.create(f"{work}/state7.zarr", attrs={"env_id": "cosmos_sim/Perceived-v0"})
    for i in range(src.n_episodes):
        e = src.episode(i, keys=["state", "action"])
        dst.add_episode(
            {"state": e["state"][:, cols].astype(np.float32), "action": e["action"]}, seed=9000 + i
        )
    dst.close()
    bc.train(
        bc.Args(
            data=(f"{work}/state7.zarr",),
            env_id="cosmos_sim/Perceived-v0",
            env_kwargs=json.dumps(perceived("manip-state-nano", "default")),
            obs_key="state",
            epochs=30,
            out=policy_dir,
            device="cpu",
        )
    )
net = load_policy(policy_dir, "cpu").net
seeds = list(range(100000, 100064))
for name in sys.argv[1:]:
    row = {
        look: run_episodes(net, "cosmos_sim/Perceived-v0", seeds, perceived(name, look))[0].success_rate
        for look in LOOKS
    }
    print(name, json.dumps(row), flush=True)
