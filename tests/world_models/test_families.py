"""World-model families: typed dynamics configs tagged in config.json, old configs migrated on read, and a
family added from outside (one adapter + one registry line) running through save/load, the env and training."""

import json
from dataclasses import dataclass

import gymnasium as gym
import numpy as np
import pytest
import torch
from torch import nn

import cosmos_sim  # noqa: F401  (registers the WFM env)
from cosmos_sim.errors import CheckpointError, ConfigError
from cosmos_sim.train.latents import LatentData, sample_batch
from cosmos_sim.train.wfm import Args, Learner, build_model
from cosmos_sim.world_models.dit import DiTConfig
from cosmos_sim.world_models.families import FAMILIES, Family, register_family
from cosmos_sim.world_models.gpt import GPTConfig
from cosmos_sim.world_models.multiview import MultiViewDiTConfig
from cosmos_sim.world_models.wfm import WorldModel, WorldModelConfig, tiny_world_model


@pytest.mark.parametrize(
    "family, config_class", [("diffusion", DiTConfig), ("ar", GPTConfig), ("multiview", MultiViewDiTConfig)]
)
def test_the_dynamics_config_is_typed_and_tagged_with_its_family(family, config_class, tmp_path):
    wm = tiny_world_model(family)
    assert type(wm.config.dynamics) is config_class and wm.config.family == family
    meta = json.loads((wm.save_pretrained(tmp_path / "m") / "config.json").read_text())["config"]
    assert meta["dynamics"]["type"] == family and "family" not in meta
    assert WorldModelConfig.from_json(meta) == wm.config


def test_a_config_json_from_before_the_tag_loads_the_same(tmp_path):
    """The first format: ``family`` beside an untagged ``dynamics`` dict (every shipped bundle has it)."""
    wm = tiny_world_model("ar")
    d = wm.save_pretrained(tmp_path / "m", dtype=None)
    meta = json.loads((d / "config.json").read_text())
    meta["config"] = {"family": meta["config"]["dynamics"].pop("type"), **meta["config"]}
    (d / "config.json").write_text(json.dumps(meta))
    assert WorldModel.from_pretrained(d, device="cpu").config == wm.config
    shipped = json.loads((WorldModel.resolve_pretrained("manip-gpt-nano") / "config.json").read_text())[
        "config"
    ]
    assert (
        "type" not in shipped["dynamics"] and type(WorldModelConfig.from_json(shipped).dynamics) is GPTConfig
    )
    # the dict form of the first API: a family and an untyped dynamics dict (copied with a change)
    cfg = wm.config
    changed = WorldModelConfig(**{**cfg.__dict__, "dynamics": {**cfg.dynamics, "action_dim": 1}})
    assert changed.dynamics == GPTConfig(**{**cfg.dynamics, "action_dim": 1}) and changed.family == "ar"


def test_an_unknown_family_or_an_untyped_config_is_refused(tmp_path):
    d = tiny_world_model().save_pretrained(tmp_path / "m")
    text = (d / "config.json").read_text()
    (d / "config.json").write_text(text.replace('"type": "diffusion"', '"type": "gan"'))
    with pytest.raises(
        CheckpointError,
        match=r"config\.json has an invalid world-model config: unknown world-model "
        r"family 'gan'; registered: diffusion, ar, multiview",
    ):
        WorldModel.from_pretrained(d, device="cpu")
    with pytest.raises(ConfigError, match="dynamics must be the config of a registered family"):
        WorldModelConfig(dynamics=CopyLastConfig())  # not registered
    with pytest.raises(ConfigError, match="family 'ar' does not match its dynamics config, a DiTConfig"):
        WorldModelConfig(family="ar", dynamics=DiTConfig())
    with pytest.raises(ConfigError, match="already the config of the 'diffusion' family"):
        register_family(type("Twin", (Family,), {"name": "twin", "config_class": DiTConfig})())


# ---- a family from outside: next latent = last latent ----------------------------------------------------
@dataclass(frozen=True)
class CopyLastConfig:
    latent_channels: int = 4
    context_frames: int = 2
    action_dim: int = 7


class CopyLastNet(nn.Module):
    def __init__(self, config: CopyLastConfig):
        super().__init__()
        self.config = config
        self.gain = nn.Parameter(torch.ones(()))  # one weight, for save/load and the optimizer


class CopyLast(Family):
    name, config_class, network = "copy-last", CopyLastConfig, CopyLastNet

    def dynamics_config(self, args, tokenizer, latent_size, action_dim, views):
        return CopyLastConfig(tokenizer.latent_channels, args.context_frames, action_dim)

    def predict(self, wm, state, action, noise, generator, waypoints):
        self.condition(wm, action, waypoints)
        return state.window[:, -1] * wm.dynamics.gain

    def loss(self, wm, dynamics, batch, args):
        ctx = (batch["context"].float() - wm.latent_mean.unsqueeze(1)) / wm.latent_std.unsqueeze(1)
        target = (batch["target"].float() - wm.latent_mean) / wm.latent_std
        return ((ctx[:, -1] * dynamics.gain - target) ** 2).mean(), self.head_input(wm, target)


@pytest.fixture()
def copy_last():
    family = register_family(CopyLast())  # the one registry line
    yield family
    del FAMILIES[family.name]


def test_a_family_added_from_outside_saves_loads_steps_and_trains(copy_last, tmp_path):
    tok = tiny_world_model().tokenizer
    tok.save_pretrained(tmp_path / "tok", dtype=None)
    env_info = {
        "env_id": "cosmos_sim/Manipulation-GT-v0",
        "action_layout": list(WorldModelConfig.action_layout),
        "height": 64,
        "width": 64,
    }
    args = Args(family="copy-last", context_frames=2)
    wm = build_model(args, tok, str(tmp_path / "tok"), None, env_info)  # the trainer's path, from its Args
    assert wm.config.family == "copy-last" and type(wm.dynamics) is CopyLastNet

    d = wm.save_pretrained(tmp_path / "m", dtype=None)
    assert json.loads((d / "config.json").read_text())["config"]["dynamics"]["type"] == "copy-last"
    back = WorldModel.from_pretrained(d, device="cpu")
    assert back.config == wm.config and type(back.dynamics) is CopyLastNet

    env = gym.make("cosmos_sim/Manipulation-WFM-v0", checkpoint=str(d), device="cpu")
    first, _ = env.reset(seed=0)
    obs, reward, terminated, truncated, info = env.step(np.zeros(7, np.float32))
    assert np.array_equal(obs, back.decode(back.encode(first[None, None])[:, 0])[0])  # the last frame, again
    assert np.isfinite(reward) and 0 <= info["success_prob"] <= 1
    env.close()

    n = 4
    data = LatentData(
        latents=np.random.default_rng(0).normal(size=(n, 4, 8, 8)).astype(np.float16),
        action=np.zeros((n, 7), np.float32),
        reward=np.zeros(n, np.float32),
        success=np.zeros(n, bool),
        episode_start=np.zeros(n, np.int64),
        last=np.array([0, 0, 0, 1], bool),
    )
    losses = Learner(wm, args)(sample_batch(data, np.array([0, 1, 2]), k=2))
    losses["loss"].backward()
    assert torch.isfinite(losses["loss"]) and wm.dynamics.gain.grad is not None
