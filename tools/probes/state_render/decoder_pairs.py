"""Does a decoder trained on the renderer's own latents put the block where the state says? (issue 14, session 27)

Fed the scene's true state, `manip-render-fast-nano` draws the block ~1.4 cm (median) farther from the camera than
it is, and the whole-episode frame verdict loses 14 points to that alone; half of the offset is already in the
tokenizer's round trip of GT frames (0.73 cm), where the block's darker camera-facing sides blur into the table.
This probe fine-tunes the bundle's decoder (`cv4x4x4-fastdec-nano`, encoder untouched) on pairs of (the renderer's
latent drawn from the TRUE state of a training episode, the GT frame), half of each batch, and on the encoder's latents
of GT frames (its usual round trip), the other half; loss L1 + MSE on pixels weighted 1 on scenery, 10 on the arm and
goal disc and BLOCK_WEIGHT on the red block (each mask grown by a pixel), as `train-tokenizer --object-weight` does.

    python tools/probes/state_render/decoder_pairs.py data OUT             # the pairs: ~300 training episodes
    python tools/probes/state_render/decoder_pairs.py train OUT MINUTES    # -> OUT/decoder (a tokenizer directory)

Training seeds only (expert 0-99, noisy expert 2000-2149, random 1000-1049); judge on validation seeds with
`bundle_verdict.py` after `tools/swap_decoder.py`.
"""

import json
import os
import sys
import time

import numpy as np
import torch

os.environ.setdefault("MUJOCO_GL", "egl")
from true_state import forced_state, true_states

from cosmos_sim.bench.wfm import env_open_loop
from cosmos_sim.data.object_masks import grow
from cosmos_sim.eval.rollouts import gt_rollouts
from cosmos_sim.world_models.tokenizer import Tokenizer

BUNDLE = "assets/wfm/manip-render-fast-nano"
TOKENIZER = "assets/tokenizers/cv4x4x4-fastdec-nano"
BLOCK_WEIGHT = float(os.environ.get("BLOCK_WEIGHT", "30"))
SCENERY = ("background", "table", "floor")  # the goal disc weighted as the decoder's run 2 weighted it
EPISODES = {"expert": range(0, 100), "noisy-expert": range(2000, 2150), "random": range(1000, 1050)}
torch.set_num_threads(int(os.environ.get("THREADS", "2")))


def renderer_latents(seeds, actions) -> np.ndarray:
    """(E, T, C, h, w) the bundle's normalised latents drawn from the true state at every step."""
    captured = []
    with forced_state(
        true_states(seeds, actions), lambda z: captured.append(z.float().cpu().numpy().astype(np.float16))
    ):
        env_open_loop(BUNDLE, list(seeds), actions)
    return np.stack(captured, 1)


def make_data(out: str) -> None:
    z, frames, segs, block_id, objects = [], [], [], None, None
    for policy, seeds in EPISODES.items():
        t0 = time.time()
        g = gt_rollouts(policy, list(seeds), steps=60, segs=True)
        block_id = {v: k for k, v in g["labels"].items()}["red_block"]
        objects = [int(k) for k, v in g["labels"].items() if v not in SCENERY]
        for i in range(0, len(seeds), 50):
            z.append(
                renderer_latents(list(seeds)[i : i + 50], g["actions"][i : i + 50]).reshape(-1, 16, 16, 16)
            )
        frames.append(g["frames"][:, 1:].reshape(-1, 64, 64, 3))
        segs.append(g["segs"][:, 1:].reshape(-1, 64, 64).astype(np.uint8))
        print(f"{policy}: {len(seeds)} episodes, {time.time() - t0:.0f}s", flush=True)
    np.savez(
        f"{out}/pairs.npz",
        z=np.concatenate(z),
        frames=np.concatenate(frames),
        segs=np.concatenate(segs),
        block_id=block_id,
        objects=np.array(objects),
    )


def train(out: str, minutes: float) -> None:
    d = np.load(f"{out}/pairs.npz")
    z_all, frames, segs, block_id, objects = d["z"], d["frames"], d["segs"], int(d["block_id"]), d["objects"]
    bundle = json.loads(open(f"{BUNDLE}/config.json").read())["config"]
    mean = torch.tensor(bundle["latent_mean"]).view(1, -1, 1, 1)
    std = torch.tensor(bundle["latent_std"]).view(1, -1, 1, 1)
    tok = Tokenizer.from_pretrained(TOKENIZER, device="cpu")
    tok.encoder.requires_grad_(False)
    params = list(tok.decoder.parameters())
    opt = torch.optim.AdamW(params, lr=2e-4, betas=(0.9, 0.99))
    gen = np.random.default_rng(0)
    n, bs, t0, step = len(frames), 16, time.time(), 0
    tok.train()
    while time.time() - t0 < minutes * 60:
        j = gen.integers(0, n, bs)
        x = torch.from_numpy(frames[j]).permute(0, 3, 1, 2).float().div(127.5).sub(1)
        seg = segs[j]
        w = 1 + 9 * grow(np.isin(seg, objects)) + (BLOCK_WEIGHT - 10) * grow(seg == block_id)
        w = torch.from_numpy(w).float().unsqueeze(1)
        with torch.no_grad():
            zr = torch.from_numpy(z_all[j[: bs // 2]].astype(np.float32)) * std + mean
            ze = tok.quantize(tok.encoder(x[bs // 2 :].unsqueeze(1)))
        zz = torch.cat([zr.unsqueeze(1), ze], 0)
        y = tok.decoder(zz)[:, 0]
        err = y - x
        loss = ((err.abs() + err.pow(2)) * w).mean() / w.mean()
        lr = 2e-4 * 0.5 * (1 + np.cos(np.pi * min(1.0, (time.time() - t0) / (minutes * 60))))
        for gp in opt.param_groups:
            gp["lr"] = max(lr, 1e-5)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        step += 1
        if step % 200 == 0:
            print(f"step {step} loss {loss.item():.4f} {time.time() - t0:.0f}s", flush=True)
    tok.eval()
    tok.save_pretrained(f"{out}/decoder")
    print("saved", f"{out}/decoder", step, "steps", flush=True)


if __name__ == "__main__":
    what, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    make_data(out) if what == "data" else train(out, float(sys.argv[3]))
