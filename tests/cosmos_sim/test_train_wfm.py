"""train-wfm: training windows, the latent cache, a tiny end-to-end run of both families, resume, bad input."""

import json
from dataclasses import replace

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from cosmos_sim.cli import main
from cosmos_sim.data.generate import record_noisy_expert
from cosmos_sim.data.store import TrajectoryStore
from cosmos_sim.errors import ConfigError
from cosmos_sim.train.latents import LatentData, sample_batch
from cosmos_sim.train.wfm import Args, train
from cosmos_sim.world_models.wfm import WorldModel, tiny_world_model


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    d = tmp_path_factory.mktemp("trainwfm")
    train_store = record_noisy_expert(str(d / "train.zarr"), episodes=3, seed=0, max_steps=10)
    val_store = record_noisy_expert(str(d / "val.zarr"), episodes=2, seed=100000, max_steps=10, max_noise=0.0)
    for fam in ("diffusion", "ar"):
        tiny_world_model(fam).tokenizer.save_pretrained(d / f"tok_{fam}", dtype=None)
    return d, train_store, val_store


def _tiny(d, family: str = "diffusion", **overrides) -> Args:
    """A tiny train-wfm run on the module's stores (``overrides``: any Args field)."""
    return Args(
        **{
            **dict(
                data=(str(d / "train.zarr"),),
                val_data=(str(d / "val.zarr"),),
                tokenizer=str(d / f"tok_{family}"),
                family=family,
                dim=32,
                depth=1,
                heads=2,
                context_frames=2,
                batch_size=4,
                eval_every=2,
                eval_episodes=2,
                rollout_steps=4,
                warmup=1,
                progress=False,
            ),
            **overrides,
        }
    )


def test_noisy_expert_store_has_what_training_reads(setup):
    _, store, val = setup
    assert store.n_episodes == 3 and {"rgb", "action", "reward", "is_success"} <= set(store.keys())
    assert list(store.episode_seeds) == [0, 1, 2] and list(val.episode_seeds) == [100000, 100001]
    ep = store.episode(0)
    assert ep["rgb"].shape[1:] == (64, 64, 3) and np.abs(ep["action"]).max() <= 1
    assert (ep["action"][-1] == 0).all()  # recording convention: the last row has no action


def test_windows_pad_episode_starts_with_the_first_frame_and_zero_actions():
    n = 6  # two episodes: rows 0-2 and 3-5
    data = LatentData(
        latents=np.arange(n, dtype=np.float16).reshape(n, 1, 1, 1) * np.ones((1, 2, 2, 2), np.float16),
        action=np.arange(n, dtype=np.float32)[:, None].repeat(7, 1) + 1,
        reward=np.arange(n, dtype=np.float32),
        success=np.array([0, 0, 1, 0, 0, 0], bool),
        episode_start=np.array([0, 0, 0, 3, 3, 3]),
        last=np.array([0, 0, 1, 0, 0, 1], bool),
    )
    b = sample_batch(data, np.array([1, 3]), k=3)
    ctx = b["context"][:, :, 0, 0, 0].tolist()
    assert ctx == [[0, 0, 1], [3, 3, 3]]  # never crosses into the previous episode
    assert b["context_actions"][0, :, 0].tolist() == [0, 1]  # zero between repeated frames, a_0 from 0 to 1
    assert b["context_actions"][1].abs().sum() == 0
    assert b["action"][:, 0].tolist() == [2, 4] and b["target"][:, 0, 0, 0].tolist() == [2, 4]
    assert b["reward"].tolist() == [1, 3] and b["success"].tolist() == [True, False]


def test_unroll_history_stops_at_the_episode_start():
    n = 6  # two episodes: rows 0-2 and 3-5
    data = LatentData(
        latents=np.arange(n, dtype=np.float16).reshape(n, 1, 1, 1) * np.ones((1, 2, 2, 2), np.float16),
        action=np.arange(n, dtype=np.float32)[:, None].repeat(7, 1) + 1,
        reward=np.zeros(n, np.float32),
        success=np.zeros(n, bool),
        episode_start=np.array([0, 0, 0, 3, 3, 3]),
        last=np.array([0, 0, 1, 0, 0, 1], bool),
    )
    b = sample_batch(data, np.array([1, 4]), k=2, unroll=2)
    assert b["history"][:, :, 0, 0, 0].tolist() == [[0, 0, 0, 1], [3, 3, 3, 4]]  # rows t-3 .. t, clamped
    # transitions t-2 -> t-1 and t-1 -> t: only the ones inside the episode are real, with their actions
    assert b["history_real"].tolist() == [[False, True], [False, True]]
    assert b["history_actions"][:, :, 0].tolist() == [[0, 1], [0, 4]]
    assert torch.equal(b["history"][:, -2:], b["context"])  # the GT context the unroll replaces


def test_unrolled_context_is_the_models_own_prediction_where_the_transition_is_real():
    from cosmos_sim.world_models.families import FAMILIES

    wm = tiny_world_model("diffusion")
    k, c = wm.config.dynamics.context_frames, wm.config.dynamics.latent_channels
    h, w = wm.config.dynamics.latent_size
    torch.manual_seed(0)
    hist = torch.randn(3, k + 2, c, h, w)
    batch = {
        "history": hist,
        "history_actions": torch.randn(3, 2, 7),
        "history_real": torch.tensor([[True, True], [False, True], [False, False]]),
    }
    ctx = FAMILIES["diffusion"].unrolled_context(wm, wm.dynamics, batch)
    norm = (hist - wm.latent_mean.unsqueeze(1)) / wm.latent_std.unsqueeze(1)
    assert ctx.shape == (3, k, c, h, w)
    assert torch.allclose(ctx[2], norm[2, -k:])  # no real transition: the recorded frames
    assert torch.allclose(ctx[1, -2], norm[1, -2])  # the first one was not real: GT kept
    assert not torch.allclose(ctx[1, -1], norm[1, -1])  # the second one is the model's
    torch.manual_seed(1)
    first = wm.dynamics.sample(norm[:1, :k], batch["history_actions"][:1, 0], steps=wm.config.sampler_steps)
    torch.manual_seed(1)
    again = FAMILIES["diffusion"].unrolled_context(wm, wm.dynamics, {k_: v[:1] for k_, v in batch.items()})
    assert torch.allclose(again[0, -2], first[0], atol=1e-5)  # frame t-1 predicted from the first K


def test_unroll_is_refused_where_the_family_cannot_unroll(setup):
    d, _, _ = setup
    args = Args(data=(str(d / "train.zarr"),), tokenizer=str(d / "tok_ar"), family="ar", unroll=2)
    with pytest.raises(ConfigError, match="--unroll 2: use 0, or a number >= 1 with --family diffusion"):
        train(args)


@pytest.mark.parametrize("family", ["diffusion", "ar"])
def test_tiny_run_writes_checkpoints_metrics_and_resumes(setup, family):
    d, _, _ = setup
    out = d / f"run_{family}"
    args = _tiny(d, family, out=str(out), steps=4)
    figures = train(args)
    assert figures["step"] == 4 and np.isfinite(figures["val_psnr"]) and figures["copy_psnr"] > 5
    lines = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert [x["step"] for x in lines] == [2, 4]
    assert list((out / "cache").glob("train-*.npz"))  # latents encoded once
    wm = WorldModel.from_pretrained(out / "best", device="cpu")
    assert wm.config.family == family and wm.config.context_frames == 2
    assert wm.config.env_id == "cosmos_sim/Manipulation-GT-v0" and len(wm.config.action_layout) == 7
    if family == "diffusion":
        assert len(wm.config.latent_mean) == 4 and min(wm.config.latent_std) > 0
    # Resume: the same command with more steps continues from step 4.
    figures = train(Args(**{**args.__dict__, "steps": 6}))
    assert figures["step"] == 6
    assert [json.loads(x)["step"] for x in (out / "metrics.jsonl").read_text().splitlines()] == [2, 4, 6]


def test_residual_diffusion_is_recorded_in_the_bundle(setup, tmp_path):
    d, _, _ = setup
    args = _tiny(d, out=str(tmp_path / "res"), steps=2, residual=True, sigma_data=0.5)
    train(args)
    dyn = WorldModel.from_pretrained(tmp_path / "res" / "best", device="cpu").dynamics.config
    assert dyn.residual and dyn.sigma_data == 0.5
    with pytest.raises(ConfigError, match="sigma_data must be > 0"):
        train(replace(args, sigma_data=0.0, out=str(tmp_path / "bad")))


@pytest.mark.parametrize("family", ["diffusion", "ar", "diffusion-unroll"])
def test_an_interrupted_run_resumes_to_the_weights_of_an_uninterrupted_one(setup, family, tmp_path):
    d, _, _ = setup
    family, _, unroll = family.partition("-")
    args = _tiny(
        d,
        family,
        unroll=2 if unroll else 0,
        cache_dir=str(d / f"cache_{family}"),
        steps=4,
        eval_episodes=1,
        rollout_steps=2,
        ema=0.5,
        threads=1,
    )
    train(replace(args, out=str(tmp_path / "whole")))
    cut = replace(args, out=str(tmp_path / "cut"))
    train(replace(cut, time_limit_min=1e-9))  # stops (and saves) after its first step
    assert torch.load(tmp_path / "cut" / "last" / "train_state.pt", weights_only=False)["step"] == 1
    train(cut)  # the same command again: resumes at step 1
    whole, resumed = (load_file(tmp_path / r / "last" / "model.safetensors") for r in ("whole", "cut"))
    assert whole.keys() == resumed.keys()
    for k in whole:
        assert torch.equal(whole[k], resumed[k]), k
    ema_whole, ema_resumed = (
        torch.load(tmp_path / r / "last" / "train_state.pt", weights_only=False)["ema"]
        for r in ("whole", "cut")
    )
    for k in ema_whole:
        assert torch.equal(ema_whole[k], ema_resumed[k]), f"EMA {k}"


def test_cli_bad_input_is_a_clear_error(setup, capsys):
    d, _, _ = setup
    rc = main(
        [
            "train-wfm",
            "--data",
            str(d / "train.zarr"),
            "--tokenizer",
            str(d / "tok_ar"),
            "--family",
            "diffusion",
            "--out",
            str(d / "bad"),
            "--progress",
            "--steps",
            "1",
        ]
    )
    assert rc == 2 and "needs a CV tokenizer" in capsys.readouterr().err
    empty = TrajectoryStore.create(d / "norgb.zarr")
    empty.add_episode({"state": np.zeros((3, 2), np.float32)})
    rc = main(
        [
            "train-wfm",
            "--data",
            str(d / "norgb.zarr"),
            "--tokenizer",
            str(d / "tok_diffusion"),
            "--out",
            str(d / "bad2"),
        ]
    )
    assert rc == 2 and "no 'rgb' key" in capsys.readouterr().err


def test_lora_post_training_trains_only_the_adapters_and_resumes_exactly(setup, tmp_path):
    from cosmos_sim.world_models.lora import read_adapter_meta

    d, _, _ = setup
    base = tmp_path / "base"
    common = _tiny(d, cache_dir=str(d / "cache_lora"), eval_episodes=1, rollout_steps=2, threads=1)
    train(replace(common, steps=2, out=str(tmp_path / "base_run")))
    WorldModel.from_pretrained(tmp_path / "base_run" / "best", device="cpu").save_pretrained(base)
    with pytest.raises(ConfigError, match="--lora-rank 2: LoRA adapts a trained bundle"):
        train(replace(common, steps=2, lora_rank=2, out=str(tmp_path / "x")))
    lora = replace(common, steps=4, lora_rank=2, lora_head=True, init_from=str(base), ema=0.5)
    train(replace(lora, out=str(tmp_path / "whole")))
    meta = read_adapter_meta(tmp_path / "whole" / "best")
    assert meta["spec"]["rank"] == 2 and meta["env"]["env_id"] == "cosmos_sim/Manipulation-GT-v0"
    base_wm = WorldModel.from_pretrained(base, device="cpu")
    adapted = WorldModel.from_pretrained(base, device="cpu", adapter=tmp_path / "whole" / "last")
    frozen = {
        k.replace(".base_layer", ""): v for k, v in adapted.dynamics.state_dict().items() if "lora_" not in k
    }
    for k, v in base_wm.dynamics.state_dict().items():  # the base's weights did not move
        assert torch.equal(frozen[k], v), k
    heads = zip(adapted.head.parameters(), base_wm.head.parameters(), strict=True)
    assert any(not torch.equal(a, b) for a, b in heads)  # --lora-head: the head trained
    # interrupted after step 1 and resumed: the same adapters as the uninterrupted run
    cut = replace(lora, out=str(tmp_path / "cut"))
    train(replace(cut, time_limit_min=1e-9))
    train(cut)
    whole, resumed = (
        load_file(tmp_path / r / "last" / "adapter_model.safetensors") for r in ("whole", "cut")
    )
    assert whole.keys() == resumed.keys() and all(torch.equal(whole[k], resumed[k]) for k in whole)


def test_init_from_a_bundle_of_another_action_size_keeps_all_but_its_action_layers(setup, tmp_path, capsys):
    """A shipped model as the prior of another env: every weight whose shape fits is copied, the action
    layers start fresh; LoRA (which freezes the base) is refused with the reason."""
    d, _, _ = setup
    other = tiny_world_model("diffusion", env={"action_layout": ("a0", "a1")})  # a 2-action env's bundle
    other.save_pretrained(tmp_path / "other", dtype=None)
    other.tokenizer.save_pretrained(tmp_path / "tok", dtype=None)
    common = dict(
        data=(str(d / "train.zarr"),),
        tokenizer=str(tmp_path / "tok"),
        cache_dir=str(d / "cache_init"),
        init_from=str(tmp_path / "other"),
        batch_size=2,
        warmup=1,
        eval_every=1,
        threads=1,
        progress=False,
    )
    with pytest.raises(ConfigError, match=r"--lora-rank needs the --init-from bundle's action size \(2\)"):
        train(Args(**common, steps=1, lora_rank=2, out=str(tmp_path / "lora")))
    train(Args(**common, steps=1, lr=1e-12, ema=0.0, out=str(tmp_path / "run")))
    assert (
        "new (action size 2 -> 7): dynamics.action_emb.0.weight, head.mlp.0.weight" in capsys.readouterr().out
    )
    wm = WorldModel.from_pretrained(tmp_path / "run" / "best", device="cpu")
    assert wm.dynamics.config.action_dim == 7 and wm.dynamics.config.dim == other.dynamics.config.dim
    mine, theirs = wm.dynamics.state_dict(), other.dynamics.state_dict()
    for k, v in theirs.items():  # lr ~ 0: the copied weights are the prior's (stored in bf16)
        if k != "action_emb.0.weight":
            torch.testing.assert_close(mine[k], v.to(torch.bfloat16).float(), rtol=0, atol=1e-9, msg=k)
    assert mine["action_emb.0.weight"].shape == (theirs["action_emb.0.weight"].shape[0], 7)


def test_context_aug_fine_tunes_a_base_and_records_the_inference_level(setup, tmp_path):
    d, _, _ = setup
    base = tmp_path / "base"
    train(_tiny(d, out=str(base), steps=2))
    args = _tiny(d, out=str(tmp_path / "aug"), steps=2, init_from=str(base / "best"), context_aug=0.5)
    train(replace(args, context_sigma=0.2))
    wm = WorldModel.from_pretrained(tmp_path / "aug" / "best", device="cpu")
    assert wm.dynamics.config.context_aug == 0.5 and wm.config.context_sigma == 0.2
    assert wm.dynamics.context_sigma_emb is not None
    with pytest.raises(ConfigError, match="--context-aug 0.5: use 0, or a std > 0 with --family diffusion"):
        train(_tiny(d, "ar", out=str(tmp_path / "x"), context_aug=0.5))
    with pytest.raises(ConfigError, match="--context-sigma 0.2: use 0, or a level >= 0 with --context-aug"):
        train(_tiny(d, out=str(tmp_path / "y"), context_sigma=0.2))
