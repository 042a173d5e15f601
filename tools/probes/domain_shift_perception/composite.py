"""Would backgrounds pasted from many pictures teach the estimator the held-out coffee look? (issue 17, session 22)

Session 20's ``more_looks.py``: eleven training looks instead of five took the coffee block error from 11.7 to
9.0 cm (6,000 steps); the push needs ~2-5. This asks whether *many* looks would: every frame of the default
store gets, through its seg map, a different background (table and floor pixels) cut from a random crop of
one of ~20 pictures (scikit-image's, the held-out looks' sources excluded: coffee, hubble, gravel, coins) or a
procedural pattern, tinted at random, the arm recoloured and the light scaled (``cosmos_sim/data/backgrounds.py``'s
``draw_look`` and ``paste``, a look per frame). The block and the goal disc keep
their pixels (the task names their colours). ``manip-state-nano`` is fine-tuned on the default frames plus
these, and scored as the other probes are (block / goal / hand error in cm on 16 held-out episodes per look).

    PROBE_WORK=runs/ds_probe PROBE_STEPS=1500 python tools/probes/domain_shift_perception/composite.py
"""

import json
import os
import subprocess

import numpy as np
import torch

from cosmos_sim.data.backgrounds import PasteConfig, draw_look, label_ids, load_pictures, paste
from cosmos_sim.data.store import TrajectoryStore
from cosmos_sim.train import state_estimator
from cosmos_sim.world_models.state_estimator import StateEstimator

NAMES = ("ee_x", "ee_y", "ee_z", "goal_x", "goal_y", "red_block_x", "red_block_y")


def composite(frames: np.ndarray, seg: np.ndarray, labels: dict, rng: np.random.Generator) -> np.ndarray:
    """Frames with a new look EACH (the package's ``paste-backgrounds`` draws one per episode)."""
    cfg = PasteConfig("", "")
    replace = label_ids(labels, cfg.replace, "replace")
    recolour = label_ids(labels, cfg.recolour, "recolour")
    pool = load_pictures()
    return np.concatenate(
        [
            paste(f[None], s[None], replace, recolour, draw_look(rng, pool, f.shape[:2], cfg))
            for f, s in zip(frames, seg, strict=True)
        ]
    )


def main():
    torch.set_num_threads(1)
    work = os.environ["PROBE_WORK"]
    episodes, steps = int(os.environ.get("PROBE_EPISODES", "240")), int(os.environ.get("PROBE_STEPS", "1500"))
    g = ["cosmos-sim", "generate", "--resolution", "64x64", "--no-progress", "--policy", "noisy-expert",
         "--env", "cosmos_sim/Manipulation-GT-v0", "--policy-options", '{"max_noise": 0.3, "max_random": 0.1}']  # fmt: skip
    stores = {"default_seg": (episodes, 9000, "default", ["--maps", "seg"])}
    stores.update({f"val_{look}": (16, 100100, look, []) for look in ("default", "gravel", "coffee")})
    for name, (n, seed, look, extra) in stores.items():
        path = f"{work}/{name}.zarr"
        if not os.path.isdir(path):
            kw = json.dumps({"obs_mode": "pixels+state", "appearance": look})
            subprocess.run([*g, *extra, "--env-kwargs", kw, "--episodes", str(n), "--seed", str(seed), "--out", path],
                           check=True)  # fmt: skip
    src = TrajectoryStore.open(f"{work}/default_seg.zarr")
    frames, truth = state_estimator.load_pairs((f"{work}/default_seg.zarr",), NAMES)
    seg = np.asarray(src.read("maps/front/seg", 0, src.n_steps))
    comp = composite(frames, seg, src.attrs["segmentation_labels"], np.random.default_rng(0))
    tag = os.environ.get("PROBE_TAG", "")  # a variant's name (distractors.py: "shapes")
    np.save(f"{work}/composite{tag}_examples.npy", np.concatenate([frames[:8], comp[:8]]))
    out = f"{work}/est_composite{tag}_{steps}"
    if not os.path.isdir(f"{out}/best"):
        real_load = state_estimator.load_pairs

        def load(paths, names):  # the default frames and their composites
            if paths == ("COMPOSITE",):
                return np.concatenate([frames, comp]), np.concatenate([truth, truth])
            return real_load(paths, names)

        state_estimator.load_pairs = load
        state_estimator.train(
            state_estimator.Args(data=("COMPOSITE",), names=NAMES, out=out, init_from="manip-state-nano",
                                 steps=steps, eval_every=steps, threads=1, progress=False)
        )  # fmt: skip
        state_estimator.load_pairs = real_load
    est, row = StateEstimator.from_pretrained(f"{out}/best", "cpu"), {}
    for look in ("default", "gravel", "coffee"):
        f, t = state_estimator.load_pairs((f"{work}/val_{look}.zarr",), NAMES)
        err = np.abs(est.predict(f) - t)
        groups = {"block": [5, 6], "goal": [3, 4], "hand": [0, 1, 2]}
        row[look] = {
            k: round(float(np.linalg.norm(err[:, c], axis=1).mean() * 100), 2) for k, c in groups.items()
        }
        row[look]["block_std"] = round(float(est.predict(f)[:, 5:7].std(0).mean() * 100), 2)
    print(out, json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
