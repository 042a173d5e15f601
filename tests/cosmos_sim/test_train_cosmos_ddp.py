"""Cosmos action post-training under torchrun: two CPU processes (gloo) train one LoRA model on a tiny random
diffusers checkpoint, rank 0 alone writes it. The ranks draw different batches (the batch stream is seeded by
rank), so only DDP's gradient all-reduce keeps their adapters identical; a launcher records what each rank's
learner holds at the start and the end."""

from __future__ import annotations

import pytest
import torch

pytest.importorskip("diffusers")

from cosmos_sim.data.generate import record_noisy_expert  # noqa: E402
from cosmos_sim.world_models.cosmos_tiny import tiny_cosmos_checkpoint  # noqa: E402

LAUNCHER = """
import os, sys
import torch
import cosmos_sim.train.cosmos_diffusers as tc

learners = []


def trainable(module):
    return {k: p.detach().clone() for k, p in module.named_parameters() if p.requires_grad}


class Recorded(tc.Learner):
    def __init__(self, *a, **k):
        super().__init__(*a, **k)
        learners.append((self, trainable(self)))


tc.Learner = Recorded
from cosmos_sim.cli.cosmos import main

rc = main(sys.argv[2:])
learner, init = learners[0]
torch.save({"init": init, "final": trainable(learner)}, os.path.join(sys.argv[1], f"rank{os.environ['RANK']}.pt"))
sys.exit(rc)
"""


@pytest.mark.xdist_group("two_processes")  # one at a time under `pytest -n 2`: each starts 2 workers
def test_two_cpu_ranks_post_train_one_lora_model_and_rank_0_writes_it(tmp_path, torchrun):
    record_noisy_expert(str(tmp_path / "train.zarr"), episodes=2, seed=0, max_steps=8)
    ckpt = tiny_cosmos_checkpoint(tmp_path / "ckpt")
    (tmp_path / "launch.py").write_text(LAUNCHER)
    out = tmp_path / "run"
    cmd = [str(tmp_path / "launch.py"), str(tmp_path), "post-train", "--data", str(tmp_path / "train.zarr")]
    cmd += ["--checkpoint", str(ckpt), "--out", str(out), "--device", "cpu", "--context-frames", "2"]
    cmd += ["--sampler-steps", "2", "--lora-rank", "4", "--batch-size", "4", "--steps", "3", "--warmup", "1"]
    cmd += ["--lr", "1e-2", "--save-every", "3", "--threads", "1", "--no-progress"]
    log = torchrun(cmd)
    assert log.count("post-train cosmos-diffusers:") == 1, log[-4000:]  # rank 0 alone prints and writes
    assert (out / "best").is_dir() and (out / "last").is_dir()
    assert len((out / "metrics.jsonl").read_text().splitlines()) == 1
    ranks = [torch.load(tmp_path / f"rank{r}.pt") for r in (0, 1)]
    final = [r["final"] for r in ranks]
    assert final[0].keys() == final[1].keys() and any("lora" in k for k in final[0])
    assert any(not torch.equal(ranks[0]["init"][k], final[0][k]) for k in final[0])  # it trained
    for k in final[0]:  # and the ranks stayed in step although they saw different batches
        torch.testing.assert_close(final[0][k], final[1][k], rtol=0, atol=1e-6)
