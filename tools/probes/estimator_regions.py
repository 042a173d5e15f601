"""State estimators on held-out stores: mean error per entry group, on every frame and on the "far" frames (the
block more than 0.2 m off the table's centre line), and optionally a push policy's success through each.

    python tools/probes/estimator_regions.py --data data/state --policy runs/state/push_bc \
        runs/state/real/best assets/estimators/manip-state-nano

Stores (``--stores``, under ``--data``): by default ``val_push_bc`` (a push clone's own episodes, seeds 100600..),
``val_push`` and ``val_reach`` (noisy expert), as `assets/estimators/manip-state-nano/README.md` records them; the
domain-shift probe passes its per-look stores. ``--policy``: that clone, evaluated through each estimator
(``Perceived-v0``, its mean action) on validation seeds 100500-100755.
"""

import argparse
import json

import numpy as np
import torch

from cosmos_sim.policies.evaluate import run_episodes
from cosmos_sim.policies.networks import load_policy
from cosmos_sim.train.state_estimator import load_pairs
from cosmos_sim.world_models.state_estimator import StateEstimator

GROUPS = {
    "ee": ("ee_x", "ee_y", "ee_z"),
    "goal": ("goal_x", "goal_y"),
    "block": ("red_block_x", "red_block_y"),
}
STORES = ("val_push_bc", "val_push", "val_reach")
FAR_Y = (
    0.2  # m off the centre line: the edge of the push task's layout box, which the noisy expert rarely leaves
)


def errors(estimator: StateEstimator, path: str) -> dict:
    """Mean errors in cm (ee xyz, goal xy, block xy; block on the far frames) over every frame of a store."""
    frames, truth = load_pairs((path,), estimator.names)  # the simulator's state, in the estimator's order
    pred = estimator.predict(frames)
    col = {n: i for i, n in enumerate(estimator.names)}
    cm = {
        g: np.linalg.norm(pred[:, [col[n] for n in names]] - truth[:, [col[n] for n in names]], axis=1) * 100
        for g, names in GROUPS.items()
    }
    far = np.abs(truth[:, col["red_block_y"]]) > FAR_Y
    out = {f"{g}_cm": round(float(v.mean()), 2) for g, v in cm.items()}
    out["block_cm_far"] = round(float(cm["block"][far].mean()), 2) if far.any() else None
    out["far_fraction"] = round(float(far.mean()), 3)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("estimators", nargs="+", help="estimator directories or shipped names")
    ap.add_argument("--data", default="data/state", help="folder of the held-out stores")
    ap.add_argument("--stores", nargs="+", default=STORES, help="store names (without .zarr) under --data")
    ap.add_argument("--policy", default="", help="push policy (Perceived-v0 state observations) to evaluate")
    args = ap.parse_args()
    torch.set_num_threads(1)
    policy = load_policy(args.policy, "cpu") if args.policy else None
    for name in args.estimators:
        est = StateEstimator.from_pretrained(name, device="cpu")
        row = {store: errors(est, f"{args.data}/{store}.zarr") for store in args.stores}
        if policy is not None:
            kwargs = json.loads(policy.extra["args"]["env_kwargs"]) | {"estimator": name}
            seeds = list(range(100500, 100756))
            row["policy_success"] = run_episodes(policy.net, "cosmos_sim/Perceived-v0", seeds, kwargs)[
                0
            ].success_rate
        print(name, json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
