"""`cosmos-sim train-tokenizer` on packed .npz data (``tools/gpu/pack.py``) with a wall-clock cosine schedule.

    python tools/gpu/train_tokenizer_packed.py <train-tokenizer arguments, --data / --val-data FILE.npz ...,
                                                --time-limit-min M>

The packed files replace the stores (``load_clips`` and ``fixed_clips`` are swapped for readers of their
``rgb`` and bit-packed ``objects``), and the learning rate decays by a cosine over the *time* limit rather
than ``--steps``, as in ``train_packed.py`` (several runs share the GPU, so the step rate is unknown).
``PACK_EPISODES=N`` keeps the first N episodes of every file (smoke tests on a CPU)."""

import os
import sys

import numpy as np
import torch
from torch.utils.data import ConcatDataset, Dataset
from wallclock import lr_by_time  # this folder is first on sys.path

import cosmos_sim.train.tokenizer as tt
from cosmos_sim.cli import main


class PackedClips(Dataset):
    """Windows of ``clip_frames`` rows inside the episodes of one packed file: a (T, 3, H, W) uint8 clip, with
    ``masks`` the pair (clip, (T, 1, H, W) bool object pixels), as ``train.tokenizer.KeyClips`` gives."""

    def __init__(self, path: str, clip_frames: int, masks: bool, stride: int = 1):
        z = np.load(path)
        ends = z["ends"]
        if os.environ.get("PACK_EPISODES"):
            ends = ends[: int(os.environ["PACK_EPISODES"])]
        n = int(ends[-1])
        self.rgb = torch.from_numpy(z["rgb"][:n]).permute(0, 3, 1, 2).contiguous()
        width = self.rgb.shape[-1]
        self.objects = (
            torch.from_numpy(np.unpackbits(z["objects"][:n], axis=-1, count=width).astype(bool))
            if masks
            else None
        )
        starts = np.concatenate([[0], ends[:-1]])
        self.first = np.concatenate(
            [
                np.arange(s, e - clip_frames + 1, stride)
                for s, e in zip(starts, ends, strict=True)
                if e - s >= clip_frames
            ]
        )
        self.t = clip_frames

    def __len__(self) -> int:
        return len(self.first)

    def __getitem__(self, i: int):
        a = int(self.first[i])
        clip = self.rgb[a : a + self.t]
        return clip if self.objects is None else (clip, self.objects[a : a + self.t].unsqueeze(1))


def load_packed(paths, clip_frames, key, static_labels=None):
    return ConcatDataset([PackedClips(p, clip_frames, static_labels is not None) for p in paths])


def fixed_packed(paths, clip_frames, key, n):
    return tt.spread_clips([PackedClips(p, clip_frames, False, stride=clip_frames) for p in paths], n)


tt.load_clips, tt.fixed_clips, tt.cosine_lr = load_packed, fixed_packed, lr_by_time
sys.exit(main(["train-tokenizer", *sys.argv[1:]]))
