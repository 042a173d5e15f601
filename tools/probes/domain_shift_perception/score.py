"""Mean error (cm) of state estimators on every frame of the probe's held-out stores, per look (README.md).

python tools/probes/domain_shift_perception/score.py ESTIMATOR ...     (PROBE_WORK: the stores' folder)
"""

import json
import os
import sys

import numpy as np
import torch

from cosmos_sim.data.store import TrajectoryStore
from cosmos_sim.world_models.state_estimator import StateEstimator

GROUPS = {
    "hand": ["ee_x", "ee_y", "ee_z"],
    "goal": ["goal_x", "goal_y"],
    "block": ["red_block_x", "red_block_y"],
}

torch.set_num_threads(1)
work = os.environ["PROBE_WORK"]
for name in sys.argv[1:]:
    est = StateEstimator.from_pretrained(name, device="cpu")
    row = {}
    for look in ("default", "gravel", "coffee"):
        s = TrajectoryStore.open(f"{work}/val_{look}.zarr")
        layout = list(s.attrs["state_layout"])
        truth = np.asarray(s.read("state", 0, s.n_steps))
        pred = est.predict(np.asarray(s.read("pixels", 0, s.n_steps)))
        row[look] = {
            f"{g}_cm": round(float(np.linalg.norm(
                pred[:, [est.names.index(n) for n in names]] - truth[:, [layout.index(n) for n in names]], axis=1
            ).mean() * 100), 2)
            for g, names in GROUPS.items()
        }  # fmt: skip
    print(name, json.dumps(row), flush=True)
