"""`cosmos-sim train-wfm` on packed .npz data (``tools/gpu/pack.py``) with a wall-clock cosine schedule.

    python tools/gpu/train_packed.py <train-wfm arguments, with --data FILE.npz ... and --time-limit-min M>

The packed files replace the stores (``encode_store`` and ``store_env_info`` are swapped for readers of
them; frames are encoded in fp32 on the GPU, as a CPU without fast bf16 encodes them), and the learning rate
warms up over ``--warmup`` steps and then decays by a cosine over the *time* limit rather than ``--steps``:
on a lent GPU shared by several runs the step rate is not known in advance. ``PACK_EPISODES=N`` keeps the
first N episodes of every file (smoke tests on a CPU). Runs given the same ``--cache-dir`` encode each file once."""

import json
import os
import sys
from pathlib import Path

import numpy as np
import torch
from wallclock import lr_by_time  # this folder is first on sys.path

import cosmos_sim.train.wfm as tw
from cosmos_sim.cli import main
from cosmos_sim.train.latents import LatentData, encode_frames, episode_rows


def encode_packed(path, model, cache_dir, batch=64, object_weight=1.0, static_labels=(), progress=True):
    z = np.load(path)
    ends = z["ends"]
    if os.environ.get("PACK_EPISODES"):  # smoke tests: the first few episodes only
        ends = ends[: int(os.environ["PACK_EPISODES"])]
    episode_start, last = episode_rows(ends)
    n = len(last)
    cached = Path(cache_dir) / f"{Path(path).stem}.latents.npy"  # runs given one --cache-dir encode once
    hit = cached.exists()
    if hit:
        latents = np.load(cached)
    else:
        model.autocast = False  # fp32 latents, as the CPU env encodes them
        tf32 = torch.backends.cudnn.allow_tf32
        torch.backends.cudnn.allow_tf32 = False
        latents = encode_frames(model, z["rgb"][:n], 512, f"encode {path}", progress)
        torch.backends.cudnn.allow_tf32 = tf32
        model.autocast = True
        cached.parent.mkdir(parents=True, exist_ok=True)
        np.save(f"{cached}.{os.getpid()}.npy", latents)
        os.replace(f"{cached}.{os.getpid()}.npy", cached)  # whole or absent, for a run reading beside it
    weights = None
    if object_weight != 1.0:
        weights = z["weights"][:n].astype(np.float32)
        block = (
            {float(z["block_weight"])} if "block_weight" in z.files else set()
        )  # renderer probe, session 26
        assert set(np.unique(weights).tolist()) <= {1.0, float(object_weight)} | block, (
            "packed with another weight"
        )
    print(f"{path}: {n} frames encoded{' (cached)' if hit else ''}", flush=True)
    return LatentData(
        latents, z["action"][:n], z["reward"][:n], z["success"][:n], episode_start, last, None, weights
    )


def env_info_packed(path, multiview=False):
    return json.loads(bytes(np.load(path)["env_info"]).decode())


tw.encode_store, tw.store_env_info, tw.cosine_lr = encode_packed, env_info_packed, lr_by_time
sys.exit(main(["train-wfm", *sys.argv[1:]]))
