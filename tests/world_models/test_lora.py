"""LoRA adapters (world_models/lora.py): a no-op at start, peft's files, reload on the right base only,
merge into a standalone bundle, the env taking an adapter, and `train-wfm --lora-rank` training only them."""

import dataclasses
import json

import gymnasium as gym
import numpy as np
import pytest
import torch

import cosmos_sim  # noqa: F401  (registers the ids)
from cosmos_sim.errors import CheckpointError, ConfigError
from cosmos_sim.world_models.lora import (
    LoraSpec,
    add_lora,
    merge_adapter,
    read_adapter_meta,
    save_adapter,
    trainable_parameters,
)
from cosmos_sim.world_models.wfm import WorldModel, tiny_world_model


def _trained_like(seed: int = 0) -> WorldModel:
    """A tiny model with every dynamics weight random: freshly built blocks are identities (AdaLN-Zero), so
    changes inside them would not show."""
    wm = tiny_world_model("diffusion", seed=seed)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in wm.dynamics.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.2)
    return wm


def _inputs(wm: WorldModel):
    d = wm.config.dynamics
    g = torch.Generator().manual_seed(1)
    shape = (d.latent_channels, *d.latent_size)
    return (
        torch.randn(2, *shape, generator=g),
        torch.ones(2),
        torch.randn(2, d.context_frames, *shape, generator=g),
        torch.randn(2, d.action_dim, generator=g),
    )


def _perturb_adapters(wm: WorldModel) -> None:
    with torch.no_grad():
        for name, p in wm.dynamics.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.1, generator=torch.Generator().manual_seed(len(name)))


def test_fresh_adapters_change_nothing_and_only_they_and_the_head_train():
    wm = _trained_like()
    x = _inputs(wm)
    before = wm.dynamics(*x)
    add_lora(wm, LoraSpec(rank=4, train_head=True))
    assert torch.equal(wm.dynamics(*x), before)  # B = 0
    trainable = {n for n, p in wm.named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in n or n.startswith("head.") for n in trainable)
    assert any(".qkv.lora_A" in n for n in trainable) and any(".mlp.2.lora_B" in n for n in trainable)
    n_train, n_total = trainable_parameters(wm)
    head = sum(p.numel() for p in wm.head.parameters())
    d = wm.config.dynamics
    hidden = int(d.dim * d.mlp_ratio)
    per_block = 4 * (d.dim + 3 * d.dim) + 4 * (2 * d.dim) + 4 * (d.dim + hidden) * 2  # r x (in + out) each
    assert n_train == head + d.depth * per_block and n_total > n_train
    _perturb_adapters(wm)
    assert not torch.allclose(wm.dynamics(*x), before)


def test_by_default_the_head_stays_frozen_and_under_5_percent_trains():
    wm = WorldModel.from_pretrained("manip-dit-nano", device="cpu")
    add_lora(wm, LoraSpec())
    n_train, n_total = trainable_parameters(wm)
    assert not any(p.requires_grad for p in wm.head.parameters()) and 0 < n_train < 0.05 * n_total


def test_unknown_targets_and_bad_ranks_are_clear_errors():
    with pytest.raises(ConfigError, match="rank must be >= 1"):
        LoraSpec(rank=0)
    with pytest.raises(ConfigError, match=r"targets \['nope'\] match no linear layer.*qkv"):
        add_lora(_trained_like(), LoraSpec(rank=2, targets=("nope",)))


def test_adapter_round_trip_env_and_merge(tmp_path):
    base_dir = tmp_path / "base"
    _trained_like().save_pretrained(base_dir)
    wm = WorldModel.from_pretrained(base_dir, device="cpu")
    x = _inputs(wm)
    base_out = wm.dynamics(*x)
    add_lora(wm, LoraSpec(rank=4, train_head=True))
    _perturb_adapters(wm)
    with torch.no_grad():
        wm.head.mlp[0].weight.add_(1.0)
    adapted = wm.dynamics(*x)
    assert not torch.allclose(adapted, base_out)
    wm.config = dataclasses.replace(wm.config, env_kwargs={"width": 64, "height": 64, "x": 1})
    save_adapter(wm, tmp_path / "ad", base_dir)
    files = {p.name for p in (tmp_path / "ad").iterdir()}
    assert files == {
        "adapter_config.json",
        "adapter_model.safetensors",
        "head.safetensors",
        "cosmos_adapter.json",
    }
    peft_cfg = json.loads((tmp_path / "ad" / "adapter_config.json").read_text())
    assert peft_cfg["peft_type"] == "LORA" and peft_cfg["r"] == 4
    assert read_adapter_meta(tmp_path / "ad")["env"]["env_kwargs"]["x"] == 1

    again = WorldModel.from_pretrained(base_dir, device="cpu", adapter=tmp_path / "ad")
    assert torch.allclose(again.dynamics(*x), adapted)
    assert all(torch.equal(a, b) for a, b in zip(again.head.parameters(), wm.head.parameters(), strict=True))
    assert again.config.env_kwargs["x"] == 1  # the adapter's scene, not the base's

    # Another base: refused by SHA
    other = tmp_path / "other"
    _trained_like(seed=5).save_pretrained(other)
    with pytest.raises(CheckpointError, match="was trained on the base bundle"):
        WorldModel.from_pretrained(other, device="cpu", adapter=tmp_path / "ad")
    with pytest.raises(CheckpointError, match="not a cosmos-sim LoRA adapter"):
        WorldModel.from_pretrained(base_dir, device="cpu", adapter=tmp_path)

    # Merge: a plain bundle with the same outputs (up to bf16 storage)
    merge_adapter(again)
    assert not any("lora" in k for k in again.checkpoint_state())
    assert torch.allclose(again.dynamics(*x), adapted, atol=1e-5)
    again.save_pretrained(tmp_path / "merged", dtype=None)
    merged = WorldModel.from_pretrained(tmp_path / "merged", device="cpu")
    assert torch.allclose(merged.dynamics(*x), adapted, atol=1e-5)


def test_the_env_steps_base_plus_adapter(tmp_path):
    base_dir = tmp_path / "base"
    _trained_like().save_pretrained(base_dir)
    wm = WorldModel.from_pretrained(base_dir, device="cpu")
    add_lora(wm, LoraSpec(rank=2))
    _perturb_adapters(wm)
    save_adapter(wm, tmp_path / "ad", base_dir)
    frames = {}
    for name, adapter in (("base", None), ("adapted", tmp_path / "ad")):
        env = gym.make("cosmos_sim/WFM-v0", checkpoint=str(base_dir), adapter=adapter, device="cpu")
        env.reset(seed=100000)
        frames[name] = env.step(np.zeros(7, np.float32))[0]
        env.close()
    assert frames["base"].shape == frames["adapted"].shape and not np.array_equal(
        frames["base"], frames["adapted"]
    )


def test_merge_adapter_command_writes_a_standalone_bundle(tmp_path):
    from cosmos_sim.cli import main

    base_dir = tmp_path / "base"
    _trained_like().save_pretrained(base_dir)
    wm = WorldModel.from_pretrained(base_dir, device="cpu")
    add_lora(wm, LoraSpec(rank=2))
    _perturb_adapters(wm)
    save_adapter(wm, tmp_path / "ad", base_dir)
    rc = main(
        [
            "merge-adapter",
            "--base",
            str(base_dir),
            "--adapter",
            str(tmp_path / "ad"),
            "--out",
            str(tmp_path / "m"),
        ]
    )
    assert rc == 0
    merged = WorldModel.from_pretrained(tmp_path / "m", device="cpu")
    x = _inputs(wm)
    assert torch.allclose(merged.dynamics(*x), wm.dynamics(*x), atol=0.05)  # bf16 weights
    assert not torch.allclose(
        merged.dynamics(*x), WorldModel.from_pretrained(base_dir, device="cpu").dynamics(*x), atol=0.05
    )
