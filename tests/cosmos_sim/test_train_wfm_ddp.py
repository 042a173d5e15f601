"""train-wfm under torchrun: two CPU processes (gloo) train one model, rank 0 alone writes it.

The ranks start from different random weights (``seed + rank``) and draw different batches, so only
DDP (its start-up broadcast and its gradient all-reduce) keeps them identical. A launcher records
what each rank's learner holds at the end; the test compares it with the other rank and with the
checkpoint rank 0 wrote.
"""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file

from cosmos_sim.data.generate import record_noisy_expert
from cosmos_sim.world_models.wfm import tiny_world_model

LAUNCHER = """
import os, sys
import torch
import cosmos_sim.train.wfm as tw

learners = []


class Recorded(tw.Learner):
    def __init__(self, *a, **k):
        super().__init__(*a, **k)
        learners.append((self, copy(self)))


def copy(module):
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


tw.Learner = Recorded
from cosmos_sim.cli import main

rc = main(sys.argv[2:])
learner, init = learners[0]
torch.save({"init": init, "final": copy(learner)}, os.path.join(sys.argv[1], f"rank{os.environ['RANK']}.pt"))
sys.exit(rc)
"""


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp("ddp")
    record_noisy_expert(str(d / "train.zarr"), episodes=2, seed=0, max_steps=8)
    record_noisy_expert(str(d / "val.zarr"), episodes=1, seed=100000, max_steps=4, max_noise=0.0)
    tiny_world_model("diffusion").tokenizer.save_pretrained(d / "tok", dtype=None)
    (d / "launch.py").write_text(LAUNCHER)
    return d


@pytest.mark.xdist_group("two_processes")  # one at a time under `pytest -n 2`: each starts 2 workers
def test_two_cpu_ranks_train_one_model_and_rank_0_writes_it(data, tmp_path, torchrun):
    out = tmp_path / "run"
    cmd = [
        str(data / "launch.py"),
        str(tmp_path),
        "train-wfm",
        "--data",
        str(data / "train.zarr"),
        "--val-data",
        str(data / "val.zarr"),
        "--tokenizer",
        str(data / "tok"),
        "--family",
        "diffusion",
        "--out",
        str(out),
        "--device",
        "cpu",
        "--dim",
        "32",
        "--depth",
        "1",
        "--heads",
        "2",
        "--context-frames",
        "2",
        "--batch-size",
        "4",
        "--steps",
        "4",
        "--eval-every",
        "2",
        "--eval-episodes",
        "1",
        "--rollout-steps",
        "2",
        "--warmup",
        "1",
        "--threads",
        "1",
        "--no-progress",
    ]
    log = torchrun(cmd)
    # rank 0 alone prints, evaluates and writes: one metrics line per evaluation, one last/ and one best/
    assert log.count("diffusion: ") == 1 and log.count("train: ") == 1, log[-4000:]
    lines = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert [x["step"] for x in lines] == [2, 4]
    assert sorted(p.name for p in out.iterdir()) == ["best", "cache", "last", "metrics.jsonl"]
    assert len(list((out / "cache").iterdir())) == 1  # one latent cache file for the one store, no leftovers
    assert not list((out / "last").glob("*.tmp"))
    assert torch.load(out / "last" / "train_state.pt", weights_only=False)["step"] == 4

    ranks = [torch.load(tmp_path / f"rank{r}.pt") for r in (0, 1)]
    init, final = [r["init"] for r in ranks], [r["final"] for r in ranks]
    assert final[0].keys() == final[1].keys() and any(k.startswith("dynamics.") for k in final[0])
    assert any(not torch.equal(init[0][k], init[1][k]) for k in init[0])  # each rank built its own weights
    for k in final[0]:  # DDP kept the ranks in step (different seeds, different batches)
        assert torch.equal(final[0][k], final[1][k]), k
    assert any(not torch.equal(final[0][k], init[0][k]) for k in final[0])  # and they trained
    saved = load_file(out / "last" / "model.safetensors")  # fp32: rank 0's weights after the last step
    for k, v in final[1].items():
        assert torch.equal(saved[k], v), k
