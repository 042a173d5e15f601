"""State estimators on held-out stores: mean error per entry group, on every frame and on the "far" frames (the
block more than 0.2 m off the table's centre line), and optionally a push policy's success through each.

    python tools/probes/estimator_regions.py --data data/state --policy runs/state/push_bc \
        runs/state/real/best assets/estimators/manip-state-nano

STORES: ``val_push_bc.zarr`` (a push clone's own episodes, seeds 100600..), ``val_push.zarr`` and ``val_reach.zarr``
(noisy expert) under ``--data``, as `assets/estimators/manip-state-nano/README.md` records them. ``--policy``: that
clone, evaluated through each estimator (``Perceived-v0``, its mean action) on validation seeds 100500-100755.
"""

import argparse
import json

import numpy as np
import torch

from cosmos_sim.data.store import TrajectoryStore
from cosmos_sim.policies.evaluate import run_episodes
from cosmos_sim.policies.networks import load_policy
from cosmos_sim.world_models.state_estimator import StateEstimator

NAMES = ["ee_x", "ee_y", "ee_z", "goal_x", "goal_y", "red_block_x", "red_block_y"]
STORES = ("val_push_bc", "val_push", "val_reach")
FAR_Y = (
    0.2  # m off the centre line: the edge of the push task's layout box, which the noisy expert rarely leaves
)


def errors(estimator: StateEstimator, path: str) -> dict:
    """Mean errors in cm (ee xyz, goal xy, block xy; block on the far frames) over every frame of a store."""
    s = TrajectoryStore.open(path)
    key = "true_state" if "true_state" in s.keys() else "state"
    layout = list(s.attrs["state_layout"])
    truth = np.asarray(s.read(key, 0, s.n_steps))[:, [layout.index(n) for n in NAMES]]
    frames = np.asarray(s.read("rgb" if "rgb" in s.keys() else "pixels", 0, s.n_steps))
    pred = estimator.predict(frames)
    cm = {
        g: np.linalg.norm(pred[:, sl] - truth[:, sl], axis=1) * 100
        for g, sl in (("ee", slice(0, 3)), ("goal", slice(3, 5)), ("block", slice(5, 7)))
    }
    far = np.abs(truth[:, 6]) > FAR_Y
    out = {f"{g}_cm": round(float(v.mean()), 2) for g, v in cm.items()}
    out["block_cm_far"] = round(float(cm["block"][far].mean()), 2) if far.any() else None
    out["far_fraction"] = round(float(far.mean()), 3)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("estimators", nargs="+", help="estimator directories or shipped names")
    ap.add_argument("--data", default="data/state", help="folder of the held-out stores")
    ap.add_argument("--policy", default="", help="push policy (Perceived-v0 state observations) to evaluate")
    args = ap.parse_args()
    torch.set_num_threads(1)
    policy = load_policy(args.policy, "cpu") if args.policy else None
    for name in args.estimators:
        est = StateEstimator.from_pretrained(name, device="cpu")
        row = {store: errors(est, f"{args.data}/{store}.zarr") for store in STORES}
        if policy is not None:
            kwargs = json.loads(policy.extra["args"]["env_kwargs"]) | {"estimator": name}
            seeds = list(range(100500, 100756))
            row["policy_success"] = run_episodes(policy.net, "cosmos_sim/Perceived-v0", seeds, kwargs)[
                0
            ].success_rate
        print(name, json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
