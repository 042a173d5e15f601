"""Action post-training of a (tiny, random, locally built) diffusers Cosmos checkpoint on a trajectory store: the
loss goes down with LoRA, a full fine-tune writes its transformer, runs resume, gradient checkpointing gives
the same gradients, and the bundle it ships runs as a Gymnasium env."""

import json

import gymnasium as gym
import numpy as np
import pytest
import torch
from safetensors.torch import load_file

pytest.importorskip("diffusers")

import cosmos_sim  # noqa: E402, F401  (registers the WFM env)
from cosmos_sim.data.generate import record_noisy_expert  # noqa: E402
from cosmos_sim.errors import ConfigError  # noqa: E402
from cosmos_sim.train.cosmos_diffusers import PostTrainArgs, build, check_args, post_train  # noqa: E402
from cosmos_sim.train.latents import encode_store, sample_batch  # noqa: E402
from cosmos_sim.world_models.cosmos_diffusers import CosmosWorldModel, trainable  # noqa: E402
from cosmos_sim.world_models.cosmos_tiny import tiny_cosmos_checkpoint  # noqa: E402


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    d = tmp_path_factory.mktemp("cosmos_train")
    record_noisy_expert(str(d / "train.zarr"), episodes=2, seed=0, max_steps=8)
    return d, str(d / "train.zarr"), tiny_cosmos_checkpoint(d / "ckpt")


def args_for(setup, out, **kw):
    d, store, ckpt = setup
    base = dict(
        data=(store,),
        checkpoint=str(ckpt),
        out=str(d / out),
        context_frames=2,
        sampler_steps=2,
        batch_size=8,
        warmup=2,
        progress=False,
        device="cpu",
    )
    return PostTrainArgs(**{**base, **kw})


def fixed_loss(wm, data, rows, draws=6):
    """The dynamics loss of fixed samples with fixed noise levels and noise (the same before and after)."""
    batch = sample_batch(data, rows, wm.context_frames)
    mean, std = wm.latent_mean, wm.latent_std
    ctx = (batch["context"].float() - mean.unsqueeze(1)) / std.unsqueeze(1)
    target = (batch["target"].float() - mean) / std
    with torch.no_grad():
        return float(
            np.mean(
                [
                    wm.dynamics.loss(
                        target, ctx, batch["action"], generator=torch.Generator().manual_seed(i)
                    ).item()
                    for i in range(draws)
                ]
            )
        )


def test_lora_post_training_lowers_the_loss_and_ships_an_env_bundle(setup, tmp_path):
    args = args_for(setup, "lora", lora_rank=4, steps=30, save_every=30, lr=3e-3)
    start = build(args)
    data = encode_store(args.data[0], start, tmp_path / "cache", progress=False)
    rows = np.flatnonzero(~data.last)
    before = fixed_loss(start, data, rows)
    figures = post_train(args)
    out = setup[0] / "lora"
    best = CosmosWorldModel.from_pretrained(out / "best", device="cpu")
    after = fixed_loss(best, data, rows)
    assert after < 0.8 * before, (before, after)
    assert (
        figures["step"] == 30
        and json.loads((out / "metrics.jsonl").read_text().splitlines()[-1])["step"] == 30
    )
    saved = load_file(str(out / "best" / "model.safetensors"))
    assert any("lora_B" in k for k in saved) and not any(
        k.startswith("dynamics.transformer.") and "lora_" not in k for k in saved
    )
    assert saved["dynamics.action_embedder_D.2.weight"].abs().sum() > 0  # the action MLPs trained
    env = gym.make("cosmos_sim/WFM-v0", checkpoint=str(out / "best"), device="cpu")
    obs, _ = env.reset(seed=1)
    obs, reward, *_ = env.step(env.action_space.sample())
    assert obs.shape == (64, 64, 3) and np.isfinite(reward)
    env.close()


def test_a_full_fine_tune_writes_its_transformer_and_resumes(setup):
    args = args_for(setup, "full", lora_rank=0, steps=2, save_every=2, lr=1e-3)
    post_train(args)
    last = setup[0] / "full" / "last"
    assert (last / "transformer" / "config.json").is_file() and (last / "train_state.pt").is_file()
    tuned = CosmosWorldModel.from_pretrained(last, device="cpu")
    base = build(args)
    assert not torch.equal(
        tuned.dynamics.transformer.proj_out.weight, base.dynamics.transformer.proj_out.weight
    )
    figures = post_train(args_for(setup, "full", lora_rank=0, steps=3, save_every=2, lr=1e-3))
    assert figures["step"] == 3
    steps = [
        json.loads(line)["step"] for line in (setup[0] / "full" / "metrics.jsonl").read_text().splitlines()
    ]
    assert steps == [2, 3]  # the second run started at step 2


def test_gradient_checkpointing_gives_the_same_gradients(setup, tmp_path):
    args = args_for(setup, "ckpt", lora_rank=2)
    wm = build(args)
    data = encode_store(args.data[0], wm, tmp_path / "cache", progress=False)
    batch = sample_batch(data, np.flatnonzero(~data.last)[:4], wm.context_frames)
    mean, std = wm.latent_mean, wm.latent_std
    ctx = (batch["context"].float() - mean.unsqueeze(1)) / std.unsqueeze(1)
    target = (batch["target"].float() - mean) / std
    params = trainable(wm, full=True)
    wm.train()

    def grads():
        wm.zero_grad()
        wm.dynamics.loss(target, ctx, batch["action"], generator=torch.Generator().manual_seed(0)).backward()
        return [p.grad.clone() for p in params if p.grad is not None]

    plain = grads()
    wm.dynamics.transformer.enable_gradient_checkpointing()
    checkpointed = grads()
    assert len(plain) == len(checkpointed) > 10
    for a, b in zip(plain, checkpointed, strict=True):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4)


def test_bad_arguments_are_refused_before_any_work(setup):
    with pytest.raises(ConfigError, match="no stores given"):
        check_args(PostTrainArgs(checkpoint="x"))
    with pytest.raises(ConfigError, match="exactly one of --checkpoint"):
        check_args(PostTrainArgs(data=("s",)))
    with pytest.raises(ConfigError, match="--resolution takes H W"):
        check_args(PostTrainArgs(data=("s",), checkpoint="x", resolution=(64,)))
    with pytest.raises(ConfigError, match="--lora-rank must be >= 0"):
        check_args(PostTrainArgs(data=("s",), checkpoint="x", lora_rank=-1))
    d, store, ckpt = setup
    bundle = build(args_for(setup, "unused", lora_rank=2)).save_pretrained(d / "lora2")
    with pytest.raises(ConfigError, match="has LoRA rank 2; pass --lora-rank 2"):
        build(PostTrainArgs(data=(store,), init_from=str(bundle), lora_rank=16))
