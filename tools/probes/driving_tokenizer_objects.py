"""Driving tokenizers in image mode on validation episodes: PSNR and the objects kept (bench driving's ``kept_objects``:
the other vehicles and the lane markings found by colour in the reconstruction, against the GT seg).

    python tools/probes/driving_tokenizer_objects.py assets/tokenizers/cv4x8x8-drive-nano assets/tokenizers/cv4x4x4-drive-nano

Seeds 100200.. (scripted expert) and 100300.. (noisy expert), 4 episodes of 8 steps each, all six cameras:
validation seeds, apart from bench driving's test seeds (100000.., 100100..).
"""

import sys

import torch

from cosmos_sim.bench.driving import gt_episodes, kept_objects
from cosmos_sim.eval.rollouts import rollout_metrics
from cosmos_sim.world_models.tokenizer import Tokenizer

torch.set_num_threads(1)
VIEWS = ("front", "front_left", "front_right", "rear", "rear_left", "rear_right")
episodes = {
    p: gt_episodes(VIEWS, 4, s, 8, n) for p, s, n in (("expert", 100200, 0.0), ("noisy", 100300, 0.4))
}
for path in sys.argv[1:]:
    tok = Tokenizer.from_pretrained(Tokenizer.resolve_pretrained(path), device="cpu").eval()
    for pol, ep in episodes.items():
        x = ep["views"]  # (E, T, V, H, W, 3)
        flat = torch.from_numpy(x.reshape(-1, *x.shape[3:])).permute(0, 3, 1, 2)  # images (N, 3, H, W)
        rec = torch.cat([tok.reconstruct(flat[i : i + 64]) for i in range(0, len(flat), 64)])
        rec = (rec * 255 + 0.5).to(torch.uint8).permute(0, 2, 3, 1).numpy().reshape(x.shape)
        psnr = rollout_metrics(rec.reshape(1, -1, *x.shape[3:]), x.reshape(1, -1, *x.shape[3:]))[
            "psnr"
        ].mean()
        vehicles = tuple(n for n in ep["labels"].values() if n.startswith("vehicle_"))
        print(
            f"{path} {pol}: PSNR {psnr:.2f} dB, vehicles kept {kept_objects(rec, ep, vehicles):.3f}, "
            f"lane markings kept {kept_objects(rec, ep, ('lane_markings',)):.3f}",
            flush=True,
        )
