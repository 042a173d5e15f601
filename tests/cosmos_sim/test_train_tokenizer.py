import json
from dataclasses import replace

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from cosmos_sim.cli import main
from cosmos_sim.data.store import TrajectoryStore
from cosmos_sim.train.tokenizer import Args, train
from cosmos_sim.world_models.tokenizer import Tokenizer

TINY = ["--frame-channels", "8", "--channels", "16", "--res-blocks", "1", "--no-attention"]


def _store(path, seed, episodes=3, steps=12, size=32):
    """Episodes of a coloured square sliding over a grey background."""
    rng = np.random.default_rng(seed)
    with TrajectoryStore.create(path) as s:
        for e in range(episodes):
            rgb = np.full((steps, size, size, 3), 90, np.uint8)
            colour, (x, y), (dx, dy) = (
                rng.integers(120, 255, 3),
                rng.integers(0, size - 8, 2),
                rng.integers(-1, 2, 2),
            )
            for t in range(steps):
                cx, cy = np.clip([x + dx * t, y + dy * t], 0, size - 8)
                rgb[t, cy : cy + 8, cx : cx + 8] = colour
            s.add_episode({"rgb": rgb}, seed=seed + e)
    return str(path)


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    d = tmp_path_factory.mktemp("tok")
    return _store(d / "train.zarr", 0), _store(d / "held.zarr", 100_000, episodes=1)


def test_training_learns_checkpoints_and_resumes(stores, tmp_path):
    train_store, held = stores
    out = tmp_path / "run"
    argv = [
        "train-tokenizer",
        "--data",
        train_store,
        train_store,
        "--val-data",
        held,
        "--out",
        str(out),
        "--kind",
        "DV",
        "--clip-frames",
        "5",
        "--batch-size",
        "4",
        "--steps",
        "40",
        "--eval-every",
        "20",
        "--eval-clips",
        "2",
        "--lr",
        "3e-3",
        "--warmup",
        "2",
        "--no-progress",
        "--threads",
        "1",
        *TINY,
    ]
    assert main(argv) == 0
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [20, 40]
    assert rows[-1]["loss"] < 0.5 and rows[-1]["val_psnr"] > 15 and 0 < rows[-1]["val_ssim"] <= 1
    best = Tokenizer.from_pretrained(out / "best", device="cpu")
    assert best.config.kind == "DV" and best.config.channels == 16
    meta = json.loads((out / "best" / "config.json").read_text())
    assert meta["extra"]["command"].startswith("cosmos-sim train-tokenizer --data")
    assert meta["extra"]["val_psnr"] == pytest.approx(max(r["val_psnr"] for r in rows))
    # Resume: the same command with more steps continues from step 40.
    argv[argv.index("--steps") + 1] = "50"
    argv[argv.index("--eval-every") + 1] = "10"
    assert main(argv) == 0
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [20, 40, 50]


def test_an_interrupted_run_resumes_to_the_weights_of_an_uninterrupted_one(stores, tmp_path):
    train_store, held = stores
    args = Args(
        data=(train_store,),
        val_data=(held,),
        clip_frames=5,
        batch_size=2,
        steps=4,
        eval_every=2,
        eval_clips=1,
        warmup=1,
        frame_channels=8,
        channels=16,
        res_blocks=1,
        attention=False,
        threads=1,
        progress=False,
    )
    train(replace(args, out=str(tmp_path / "whole")))
    cut = replace(args, out=str(tmp_path / "cut"))
    train(replace(cut, time_limit_min=1e-9))  # stops (and saves) after its first step
    assert json.loads((tmp_path / "cut" / "last" / "config.json").read_text())["extra"]["step"] == 1
    train(cut)  # the same command again: resumes at step 1
    whole, resumed = (load_file(tmp_path / d / "last" / "model.safetensors") for d in ("whole", "cut"))
    assert whole.keys() == resumed.keys()
    for k in whole:
        assert torch.equal(whole[k], resumed[k]), k


def _tiny(store, out, **kw) -> Args:
    """A tiny CV run on ``store`` into ``out`` (5-frame clips, no attention), overridden by ``kw``."""
    base = dict(clip_frames=5, frame_channels=16, channels=32, res_blocks=1, attention=False, progress=False)
    return Args(data=(store,), out=str(out), **{**base, **kw})


def test_bad_arguments_are_refused(stores, tmp_path):
    train_store, _ = stores
    with pytest.raises(ValueError, match=r"--clip-frames 6 is not 1 \+ k \* 4"):
        train(Args(data=(train_store,), clip_frames=6, out=str(tmp_path / "a"), progress=False))
    with pytest.raises(ValueError, match="--data"):
        train(Args(data=(), out=str(tmp_path / "b"), progress=False))
    # Resuming with another architecture is an error, not a silent restart.
    args = _tiny(train_store, tmp_path / "c", steps=1, eval_every=1, frame_channels=8, channels=16)
    train(args)
    with pytest.raises(ValueError, match="use another --out"):
        train(Args(**{**args.__dict__, "channels": 32, "steps": 2}))


def test_a_narrower_decoder_trained_alone_keeps_the_latents(stores, tmp_path):
    train_store, held = stores
    base = _tiny(train_store, tmp_path / "base", batch_size=2, steps=3, eval_every=3)
    train(base)
    teacher = Tokenizer.from_pretrained(tmp_path / "base" / "last", device="cpu")
    fast = replace(
        base,
        init_from=str(tmp_path / "base" / "last"),
        freeze_encoder=True,
        decoder_channels=16,
        decoder_frame_channels=8,
        val_data=(held,),
        steps=4,
        eval_every=2,
        out=str(tmp_path / "fast"),
    )
    train(fast)
    student = Tokenizer.from_pretrained(tmp_path / "fast" / "last", device="cpu")
    assert student.config.decoder_widths == (8, 16) and teacher.config.decoder_widths == (16, 32)
    assert (
        sum(p.numel() for p in student.decoder.parameters())
        < sum(p.numel() for p in teacher.decoder.parameters()) / 3
    )
    # the encoder is the teacher's, weight for weight: the latents of any video are the same
    for k, v in teacher.encoder.state_dict().items():
        assert torch.equal(student.encoder.state_dict()[k], v), k
    video = torch.from_numpy(TrajectoryStore.open(held).read("rgb", 0, 5)).permute(0, 3, 1, 2)[None]
    assert torch.equal(student.encode(video), teacher.encode(video))
    assert student.decode(student.encode(video)).shape == (1, 5, 3, 32, 32)
    # ... and a run that restarts resumes with the same architecture
    train(replace(fast, steps=5))
    with pytest.raises(ValueError, match="--init-from"):
        train(Args(data=(train_store,), freeze_encoder=True, out=str(tmp_path / "x"), progress=False))
