"""Where a tokenizer's reconstruction error sits in the manipulation frames: the share of the squared error per
segmentation label, on the held-out episodes of ``cosmos-sim bench tokenizer`` (seeds 100000.., image mode).

    python tools/probes/tokenizer_error_split.py DATA_DIR TOKENIZER [TOKENIZER ...]

DATA_DIR holds (or receives) the bench's held-out stores (``heldout_manip_expert.zarr``, ...).
"""

import sys

import numpy as np
import torch

from cosmos_sim.bench.tokenizer import heldout_stores
from cosmos_sim.data.store import TrajectoryStore
from cosmos_sim.world_models.tokenizer import Tokenizer


def error_split(store_path, tok: Tokenizer) -> tuple[float, float, dict[str, tuple[float, float]]]:
    """(PSNR, PSNR without the robot's pixels' error, {label: (share of pixels, share of squared error)})."""
    s = TrajectoryStore.open(store_path)
    rgb, seg = s.read("rgb", 0, s.n_steps), s.read("maps/front/seg", 0, s.n_steps)
    labels = {int(k): v for k, v in s.attrs["segmentation_labels"].items()}
    x = torch.from_numpy(rgb).permute(0, 3, 1, 2).unsqueeze(1)
    with torch.no_grad():
        rec = torch.cat([tok.reconstruct(x[i : i + 64]) for i in range(0, len(x), 64)])[:, 0]
    err = ((rec.permute(0, 2, 3, 1).numpy() * 255 - rgb.astype(np.float64)) ** 2).mean(-1)
    parts = {
        lab: ((seg == i).mean(), err[seg == i].sum() / err.sum())
        for i, lab in labels.items()
        if (seg == i).any()
    }
    robot = np.isin(seg, [i for i, lab in labels.items() if lab == "robot"])
    return 10 * np.log10(255**2 / err.mean()), 10 * np.log10(255**2 / np.where(robot, 0, err).mean()), parts


if __name__ == "__main__":
    stores = heldout_stores(sys.argv[1])
    for name in sys.argv[2:]:
        tok = Tokenizer.from_pretrained(name, device="cpu").eval()
        for scene in ("manip_expert", "manip_random"):
            p, p_no_robot, parts = error_split(stores[scene], tok)
            shares = ", ".join(f"{k} {a:.1%} of pixels / {b:.0%} of the error" for k, (a, b) in parts.items())
            print(f"{name} {scene}: PSNR {p:.2f}, without the robot's error {p_no_robot:.2f}; {shares}")
