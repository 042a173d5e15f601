"""Does the red block's yaw in the state make the renderer's state model drift less over whole episodes? (issue 14,
session 27)

A pushed cube turns, and how it turns decides where it slides; the shipped state model (``state_unroll.py``'s
recipe: 100 expert, 500 random, 550 noisy-expert episodes, one-step fit, then 3,000 steps unrolled 16) does not see
it. Here the state gets two more entries, cos 4θ and sin 4θ of the block's yaw θ (a cube looks and pushes the same
turned by a quarter), and the same recipe runs with them (``YAW=1``) and without (``YAW=0``, which reproduces the
shipped model's figures). Scored as ``state_unroll.py`` scores, on validation seeds 100200-100263 (expert, noisy
expert, random; 60 steps, stepped past success). The renderer reads only the first 15 entries, so a state model
with the yaw would drop into a bundle with a small change to ``envs/state_render.py`` if it helped.

    YAW=1 PROBE_WORK=/work/runs_s27 python tools/probes/state_render/state_yaw.py    # ~1.5 min, one thread
"""

import os
import time

import numpy as np
import state_unroll as su
import torch

from cosmos_sim.world_models import state_maps

WORK = os.environ.get("PROBE_WORK", "runs/state_render")
YAW = os.environ.get("YAW", "1") == "1"
torch.set_num_threads(1)


def yaw4(env) -> list[float]:
    """cos 4θ and sin 4θ of the red block's yaw θ."""
    w, x, y, z = env.data.xquat[env._block_bodies[0]]
    th = np.arctan2(2 * (w * z + x * y), 1 - 2 * (y * y + z * z))
    return [np.cos(4 * th), np.sin(4 * th)]


def main():
    cache, t0 = f"{WORK}/state_yaw_data.npz", time.time()
    seeds = range(100200, 100264)
    if os.path.exists(cache):
        z = np.load(cache, allow_pickle=True)
        tr, val = list(z["tr"]), z["val"].item()
    else:
        tr = su.collect("expert", range(0, 100), extra=yaw4) + su.collect(
            "random", range(1000, 1500), extra=yaw4
        )
        tr += su.collect("noisy-expert", range(2000, 2400), options=su.NOISY, extra=yaw4)
        tr += su.collect(
            "noisy-expert", range(3000, 3150), steps=80, run_on=True, options=su.NOISY, extra=yaw4
        )
        val = {
            p: su.collect(
                p, seeds, 60, run_on=True, options=su.NOISY if p == "noisy-expert" else None, extra=yaw4
            )
            for p in ("expert", "noisy-expert", "random")
        }
        np.savez(cache, tr=np.array(tr, dtype=object), val=np.array(val, dtype=object))
    print(f"data: {len(tr)} episodes ({time.time() - t0:.0f}s)", flush=True)
    goals = su.goals_of(seeds)
    d = len(state_maps.STATE) + (2 if YAW else 0)
    tr = [(st[:, :d], a) for st, a in tr]
    val = {k: [(st[:, :d], a) for st, a in v] for k, v in val.items()}
    names = state_maps.STATE + (("red_block_cos4yaw", "red_block_sin4yaw") if YAW else ())
    torch.manual_seed(0)
    m = su.fit_one_step(tr, names)
    print("one-step", {k: su.score(m, v, goals) for k, v in val.items()}, flush=True)
    su.fit_unrolled(m, tr, 16, 3000, np.random.default_rng(0), m.std)
    print("unrolled 16", {k: su.score(m, v, goals) for k, v in val.items()}, flush=True)
    m.save_pretrained(f"{WORK}/state_{'yaw' if YAW else 'noyaw'}", dtype=None)


if __name__ == "__main__":
    main()
