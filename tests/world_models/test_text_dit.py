"""The text-conditioned DiT (text-diffusion family): DiT weights load unchanged, guidance, Text2World."""

from dataclasses import replace

import numpy as np
import pytest
import torch

from cosmos_sim.errors import ConfigError
from cosmos_sim.world_models.dit import DiT, DiTConfig
from cosmos_sim.world_models.families import get_family
from cosmos_sim.world_models.text_dit import TextCond, TextDiT, TextDiTConfig, TextWorld

SMALL = dict(latent_channels=4, latent_size=(4, 4), context_frames=2, action_dim=1, dim=32, depth=2, heads=2)


def _cond(b, text_dim=8, **kw):
    g = torch.Generator().manual_seed(1)
    return TextCond(
        torch.zeros(b, 1), torch.randn(b, 5, text_dim, generator=g), torch.ones(b, 5, dtype=torch.bool), **kw
    )


def _inputs(b=3):
    g = torch.Generator().manual_seed(0)
    return (
        torch.randn(b, 4, 4, 4, generator=g),
        torch.full((b,), 0.7),
        torch.randn(b, 2, 4, 4, 4, generator=g),
    )


def test_a_plain_dit_loads_and_matches_at_initialisation():
    torch.manual_seed(0)
    dit = DiT(DiTConfig(**SMALL))
    for p in dit.parameters():  # make the zero-initialised output layers nonzero
        torch.nn.init.normal_(p, std=0.05)
    text = TextDiT(TextDiTConfig(**SMALL, text_dim=8))
    missing, unexpected = text.load_state_dict(dit.state_dict(), strict=False)
    assert not unexpected and all(
        k.startswith(("text_in", "register", "cross", "null_latent")) for k in missing
    )
    x, s, ctx = _inputs()
    assert torch.allclose(text(x, s, ctx, _cond(3)), dit(x, s, ctx, torch.zeros(3, 1)), atol=1e-5)


@pytest.fixture()
def model():
    torch.manual_seed(0)
    m = TextDiT(TextDiTConfig(**SMALL, text_dim=8)).eval()
    for p in m.parameters():
        torch.nn.init.normal_(p, std=0.1)
    return m


def test_prompt_matters_and_guidance_mixes_the_branches(model):
    x, s, ctx = _inputs()
    cond = model(x, s, ctx, _cond(3))
    null = model(x, s, ctx, _cond(3, drop=torch.ones(3, dtype=torch.bool)))
    assert (cond - null).abs().max() > 1e-3
    g = model(x, s, ctx, _cond(3, guidance=2.5))
    assert torch.allclose(g, null + 2.5 * (cond - null), atol=1e-5)
    # a row with the null prompt stays the null model whatever the guidance
    mixed = model(x, s, ctx, _cond(3, guidance=2.5, drop=torch.tensor([False, True, False])))
    assert torch.allclose(mixed[1], null[1], atol=1e-5) and torch.allclose(mixed[0], g[0], atol=1e-5)


def test_blank_context_uses_the_null_latent(model):
    x, s, ctx = _inputs()
    blank = torch.tensor([True, False, True])
    out = model(x, s, ctx, _cond(3, blank=blank))
    other = model(x, s, torch.randn_like(ctx), _cond(3, blank=blank))
    assert torch.allclose(out[blank], other[blank]) and not torch.allclose(out[~blank], other[~blank])


def test_a_single_prompt_broadcasts_and_a_wrong_count_is_refused(model):
    x, s, ctx = _inputs()
    assert model(x, s, ctx, _cond(1)).shape == (3, 4, 4, 4)
    with pytest.raises(ConfigError, match="2 prompts for 3 rows"):
        model(x, s, ctx, _cond(2))


def test_config_checks_and_family():
    with pytest.raises(ConfigError, match="context_mode='concat' only"):
        TextDiTConfig(context_mode="tokens")
    fam = get_family("text-diffusion")
    assert fam.config_class is TextDiTConfig


def test_text_world_generates_from_nothing_and_from_frames(tmp_path):
    from cosmos_sim.world_models.text_encoder import TextEncoderConfig, train_text_encoder
    from cosmos_sim.world_models.wfm import WorldModel, tiny_world_model

    wm = tiny_world_model("text-diffusion", context_frames=2)
    enc = train_text_encoder(
        ["a red ball", "a blue block"], TextEncoderConfig(steps=1, max_length=8), log=lambda m: None
    )
    wm = WorldModel(
        replace(wm.config, dynamics=replace(wm.config.dynamics, first_frame_steps=2)), wm.tokenizer
    )
    wm.save_pretrained(tmp_path / "m")
    enc.save_pretrained(tmp_path / "m" / "text_encoder")
    world = TextWorld.from_pretrained(tmp_path / "m", device="cpu")
    t2w = world.generate("a red ball", None, num_frames=3, seed=4)
    assert t2w.shape == (3, 64, 64, 3) and t2w.dtype == np.uint8
    assert np.array_equal(t2w, world.generate("a red ball", None, num_frames=3, seed=4))  # seeded
    batch = world.generate_batch(["a red ball", None], np.zeros((2, 1, 64, 64, 3), np.uint8), 2, seed=4)
    assert batch.shape == (2, 2, 64, 64, 3)
    assert np.array_equal(
        batch[0], world.generate("a red ball", np.zeros((1, 64, 64, 3), np.uint8), 2, seed=4)
    )
    with pytest.raises(ConfigError, match="not a text world model"):
        TextWorld(tiny_world_model("diffusion"), enc)


def test_the_shipped_model_loads_and_its_prompt_matters():
    world = TextWorld.from_pretrained("physics-text-dit-nano", device="cpu")
    assert world.wm.config.dynamics.guidance == 2.0 and world.encoder.dim == world.wm.config.dynamics.text_dim
    prompt = "A row of five dominoes stands on the grey floor, red, orange, yellow, green, blue from left to right."
    with_text = world.generate(prompt, None, num_frames=1, seed=0)
    without = world.generate(None, None, num_frames=1, seed=0)
    assert with_text.shape == (1, 64, 64, 3) and np.abs(with_text.astype(int) - without).mean() > 5
