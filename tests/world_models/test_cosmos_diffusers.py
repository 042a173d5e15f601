"""The cosmos-diffusers family on a tiny random diffusers checkpoint built here (no weights downloaded): the
action embedding starts as a no-op and then conditions, bundles hold only what post-training adds and load
back bit for bit, the VAE is the tokenizer, and the env passes Gymnasium's checks."""

import json
import shutil

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.utils.env_checker import check_env
from safetensors.torch import load_file

pytest.importorskip("diffusers")

import cosmos_sim  # noqa: E402, F401  (registers the WFM env)
from cosmos_sim.errors import CheckpointError, ConfigError  # noqa: E402
from cosmos_sim.world_models.cosmos_diffusers import (  # noqa: E402
    CosmosWorldModel,
    new_world_model,
    set_prompt_embeds,
)
from cosmos_sim.world_models.cosmos_tiny import TEXT_DIM, tiny_cosmos_checkpoint  # noqa: E402
from cosmos_sim.world_models.diffusers_vae import VAETokenizer  # noqa: E402
from cosmos_sim.world_models.families import FAMILIES, get_family  # noqa: E402
from cosmos_sim.world_models.wfm import WorldModel  # noqa: E402

LAYOUT = ("dx", "dy", "dz", "droll", "dpitch", "dyaw", "gripper")


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    return tiny_cosmos_checkpoint(tmp_path_factory.mktemp("cosmos") / "ckpt")


def make(ckpt, **kw):
    kw = {"action_layout": LAYOUT, "frame_size": (64, 64), "context_frames": 2, "sampler_steps": 2, **kw}
    return new_world_model(ckpt, prompt_tokens=4, **kw)


def inputs(wm, seed=0):
    g = torch.Generator().manual_seed(seed)
    c, (h, w) = wm.config.dynamics.latent_channels, wm.config.dynamics.latent_size
    x = torch.randn(3, c, h, w, generator=g)
    ctx = torch.randn(3, wm.context_frames, c, h, w, generator=g)
    action = torch.rand(3, 7, generator=g) * 2 - 1
    return x, torch.tensor([0.5, 3.0, 20.0]), ctx, action


def perturb_actions(wm, scale=0.5):
    with torch.no_grad():
        for mlp in (wm.dynamics.action_embedder_D, wm.dynamics.action_embedder_3D):
            mlp[2].weight.normal_(0, scale)


def test_the_family_loads_on_first_use_and_has_the_diffusers_parts(ckpt):
    wm = make(ckpt)
    assert (
        "cosmos-diffusers" in FAMILIES and get_family("cosmos-diffusers").bundle_class() is CosmosWorldModel
    )
    assert type(wm).__name__ == "CosmosWorldModel" and type(wm.tokenizer) is VAETokenizer
    assert type(wm.dynamics.transformer).__name__ == "CosmosTransformer3DModel"
    assert wm.dynamics.takes_condition_mask  # a Video2World transformer: latents + the condition-mask channel
    # the pipelines' latent normalisation comes from the VAE's config (the tiny one: mean 0.1 i, std 1 + 0.1 i)
    assert wm.config.latent_mean == pytest.approx((0.0, 0.1, 0.2, 0.3))
    assert wm.config.latent_std == pytest.approx((1.0, 1.1, 1.2, 1.3))


def test_the_action_embedding_starts_as_a_no_op_and_then_conditions(ckpt):
    wm = make(ckpt)
    x, sigma, ctx, action = inputs(wm)
    with torch.no_grad():
        base = wm.dynamics(x, sigma, ctx, None)  # no action embedding at all: the checkpoint's own model
        fresh = wm.dynamics(x, sigma, ctx, action)
        assert torch.equal(fresh, base)  # zero-initialised MLPs: the base model's output, bit for bit
        perturb_actions(wm)
        moved = wm.dynamics(x, sigma, ctx, action)
        other = wm.dynamics(x, sigma, ctx, -action)
    assert (moved - base).abs().mean() > 1e-3 and (moved - other).abs().mean() > 1e-3
    # per-frame timesteps: each row gets its own action (row 0 alone equals row 0 of the batch)
    with torch.no_grad():
        alone = wm.dynamics(x[:1], sigma[:1], ctx[:1], action[:1])
    torch.testing.assert_close(alone, moved[:1], atol=1e-5, rtol=1e-5)


def test_sampling_is_deterministic_given_the_noise_and_depends_on_the_action(ckpt):
    wm = make(ckpt)
    perturb_actions(wm)
    frames = np.random.default_rng(0).integers(0, 255, (2, 2, 64, 64, 3), dtype=np.uint8)
    z = wm.encode(frames)
    assert z.shape == (2, 2, 4, 8, 8)
    noise = wm.noise([torch.Generator().manual_seed(i) for i in range(2)])
    a = np.zeros((2, 7), np.float32)
    _, n1 = wm.predict_next(wm.start(z), a, noise=noise)
    _, n2 = wm.predict_next(wm.start(z), a, noise=noise)
    _, n3 = wm.predict_next(wm.start(z), a + 0.8, noise=noise)
    assert torch.equal(n1, n2) and not torch.allclose(n1, n3)
    assert wm.decode(n1).shape == (2, 64, 64, 3)


def test_a_bundle_holds_only_what_post_training_adds_and_loads_back_exactly(ckpt, tmp_path):
    wm = make(ckpt)
    perturb_actions(wm)
    d = wm.save_pretrained(tmp_path / "bundle", dtype=None)
    assert sorted(p.name for p in d.iterdir()) == ["config.json", "model.safetensors"]
    keys = load_file(str(d / "model.safetensors")).keys()
    assert not [k for k in keys if k.startswith(("dynamics.transformer.", "tokenizer."))]
    assert {"dynamics.action_embedder_D.2.weight", "dynamics.prompt_embeds", "head.mlp.0.weight"} <= set(keys)
    meta = json.loads((d / "config.json").read_text())["config"]
    assert meta["dynamics"]["type"] == "cosmos-diffusers" and meta["dynamics"]["checkpoint"] == str(
        ckpt.resolve()
    )
    back = WorldModel.from_pretrained(d, device="cpu")  # the generic loader hands it to CosmosWorldModel
    assert type(back) is CosmosWorldModel and back.config == wm.config
    x, sigma, ctx, action = inputs(wm)
    with torch.no_grad():
        assert torch.equal(back.dynamics(x, sigma, ctx, action), wm.dynamics(x, sigma, ctx, action))


def test_a_bundle_finds_its_checkpoint_beside_it_and_refuses_another_vae(ckpt, tmp_path):
    root = tmp_path / "moved"
    shutil.copytree(ckpt, root / "ckpt")
    wm = make(root / "ckpt")
    d = wm.save_pretrained(root / "bundle")
    cfg = json.loads((d / "config.json").read_text())
    cfg["config"]["dynamics"]["checkpoint"] = "../ckpt"  # relative to the bundle
    (d / "config.json").write_text(json.dumps(cfg))
    shutil.move(root, tmp_path / "elsewhere")
    back = WorldModel.from_pretrained(tmp_path / "elsewhere" / "bundle", device="cpu")
    assert back.config.dynamics.checkpoint == str((tmp_path / "elsewhere" / "ckpt").resolve())

    other = tiny_cosmos_checkpoint(tmp_path / "other", seed=1)
    cfg["config"]["dynamics"]["checkpoint"] = str(other)
    (tmp_path / "elsewhere" / "bundle" / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError, match=r"is not the VAE .* was made with \(weights SHA"):
        WorldModel.from_pretrained(tmp_path / "elsewhere" / "bundle", device="cpu")


def test_a_missing_checkpoint_is_named_and_never_fetched(tmp_path):
    with pytest.raises(
        CheckpointError, match=r"nope/vae is not the vae/ folder of a diffusers checkpoint.*never fetches"
    ):
        new_world_model(tmp_path / "nope", action_layout=LAYOUT, frame_size=(64, 64))


def test_lora_adapters_start_at_zero_and_round_trip_through_the_bundle(ckpt, tmp_path):
    plain, lora = make(ckpt), make(ckpt, lora_rank=2)
    x, sigma, ctx, action = inputs(plain)
    names = [n for n, _ in lora.dynamics.transformer.named_parameters() if "lora_" in n]
    assert any("attn1.to_q.lora_A" in n for n in names) and any("ff.net.2.lora_B" in n for n in names)
    with torch.no_grad():
        assert torch.equal(lora.dynamics(x, sigma, ctx, action), plain.dynamics(x, sigma, ctx, action))
        for n, p in lora.dynamics.transformer.named_parameters():
            if "lora_B" in n:
                p.normal_(0, 0.2)
        changed = lora.dynamics(x, sigma, ctx, action)
    assert (changed - plain.dynamics(x, sigma, ctx, action)).abs().mean() > 1e-3
    d = lora.save_pretrained(tmp_path / "lora", dtype=None)
    assert any("lora_B" in k for k in load_file(str(d / "model.safetensors")))
    back = WorldModel.from_pretrained(d, device="cpu")
    with torch.no_grad():
        assert torch.equal(back.dynamics(x, sigma, ctx, action), changed)
    with pytest.raises(ConfigError, match="match no linear layer of the transformer"):
        make(ckpt, lora_rank=2, lora_targets=("qkv",))


def test_a_full_fine_tune_saves_the_transformer_into_the_bundle(ckpt, tmp_path):
    wm = make(ckpt)
    with torch.no_grad():
        wm.dynamics.transformer.proj_out.weight.mul_(2.0)
    d = wm.save_pretrained(tmp_path / "full", dtype=None, transformer=True)
    assert (d / "transformer" / "config.json").is_file()
    assert json.loads((d / "config.json").read_text())["config"]["dynamics"]["transformer"] == "transformer"
    back = WorldModel.from_pretrained(d, device="cpu")
    assert torch.equal(back.dynamics.transformer.proj_out.weight, wm.dynamics.transformer.proj_out.weight)
    with pytest.raises(ConfigError, match="carries no tokenizer"):
        wm.save_pretrained(tmp_path / "x", tokenizer_dir=str(tmp_path))


def test_the_prompt_embedding_conditions_every_step(ckpt):
    wm = make(ckpt)
    x, sigma, ctx, action = inputs(wm)
    with torch.no_grad():
        before = wm.dynamics(x, sigma, ctx, action)
        set_prompt_embeds(wm, torch.randn(3, TEXT_DIM))  # shorter than prompt_tokens: zero-padded
        after = wm.dynamics(x, sigma, ctx, action)
    assert wm.dynamics.prompt_embeds[0, 3].abs().sum() == 0 and not torch.allclose(before, after)
    with pytest.raises(ConfigError, match=rf"prompt embedding must be \(L, {TEXT_DIM}\)"):
        set_prompt_embeds(wm, torch.randn(3, 5))


def test_the_vae_tokenizer_encodes_frames_alone_and_resizes_to_its_resolution(ckpt):
    tok = VAETokenizer.from_pretrained(ckpt, frame_size=(48, 40), resolution=(64, 64))
    assert (
        tok.config.latent_size == (8, 8) and tok.config.kind == "CV" and tok.config.name.startswith("CV4x8x8")
    )
    frames = torch.from_numpy(np.random.default_rng(0).integers(0, 255, (2, 3, 48, 40), dtype=np.uint8))
    z = tok.encode(frames)
    assert z.shape == (2, 1, 4, 8, 8) and torch.equal(z, tok.encode(frames))  # the posterior's mode
    out = tok.decode(z)
    assert out.shape == (2, 1, 3, 48, 40) and 0 <= out.min() and out.max() <= 1
    video = tok.encode(frames[:1].unsqueeze(1).repeat(1, 5, 1, 1, 1))  # 1 + 4 frames -> 2 latent frames
    assert video.shape == (1, 2, 4, 8, 8)
    with pytest.raises(ConfigError, match="not multiples of its spatial compression 8"):
        VAETokenizer.from_pretrained(ckpt, frame_size=(60, 60))


def test_the_padding_mask_resize_works_without_torchvision():
    from cosmos_sim.world_models.diffusers_compat import import_diffusers

    import_diffusers()
    from diffusers.models.transformers import transformer_cosmos as tc

    mask = torch.arange(16.0).view(1, 1, 4, 4)
    out = tc.transforms.functional.resize(mask, [2, 2], interpolation=tc.transforms.InterpolationMode.NEAREST)
    assert out.shape == (1, 1, 2, 2) and out.flatten().tolist() == [0.0, 2.0, 8.0, 10.0]


def test_a_bfloat16_transformer_loads_and_steps(ckpt):
    wm = make(ckpt, dtype="bfloat16")
    assert wm.dynamics.transformer.dtype == torch.bfloat16
    x, sigma, ctx, action = inputs(wm)
    with torch.no_grad():
        out = wm.dynamics(x, sigma, ctx, action)
    assert out.dtype == torch.float32 and torch.isfinite(out).all()


@pytest.fixture(scope="module")
def bundle(ckpt, tmp_path_factory):
    wm = make(ckpt, max_episode_steps=5)
    perturb_actions(wm)
    with torch.no_grad():
        wm.head.mlp[-1].bias[1] = -20.0  # never predicts success: episodes run to the time limit
    return str(wm.save_pretrained(tmp_path_factory.mktemp("env") / "bundle"))


def test_the_env_passes_gymnasiums_checks_and_is_reproducible(bundle):
    env = gym.make("cosmos_sim/WFM-v0", checkpoint=bundle, device="cpu")
    check_env(env.unwrapped)
    runs = []
    for _ in range(2):
        obs, info = env.reset(seed=3)
        frames = [obs]
        for t in range(3):
            obs, reward, terminated, truncated, info = env.step(np.full(7, 0.3 * (t - 1), np.float32))
            frames.append(obs)
        runs.append(np.stack(frames))
    assert runs[0].shape == (4, 64, 64, 3) and runs[0].dtype == np.uint8
    assert np.array_equal(runs[0], runs[1]) and not np.array_equal(runs[0][1], runs[0][2])
    assert np.isfinite(reward) and 0 <= info["success_prob"] <= 1
    env.close()


def test_make_vec_steps_every_row_in_one_batch(bundle):
    envs = gym.make_vec("cosmos_sim/WFM-v0", num_envs=3, checkpoint=bundle, device="cpu")
    obs, _ = envs.reset(seed=0)
    assert obs.shape == (3, 64, 64, 3)
    for _ in range(5):
        obs, reward, terminated, truncated, info = envs.step(envs.action_space.sample())
    assert (
        obs.shape == (3, 64, 64, 3) and reward.shape == (3,) and truncated.all()
    )  # the bundle's 5-step limit
    envs.close()
