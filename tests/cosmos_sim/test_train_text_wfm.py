"""``cosmos-sim train-text-wfm``: a tiny run from a plain DiT bundle, its outputs, and an exact resume."""

import json

import pytest
import torch

from cosmos_sim.data.generate import GenerateConfig, generate
from cosmos_sim.errors import ConfigError, StoreError
from cosmos_sim.train.text_wfm import Args, train
from cosmos_sim.world_models.text_dit import TextWorld
from cosmos_sim.world_models.wfm import WorldModel, tiny_world_model


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("ttw")
    kw = dict(
        env_id="cosmos_sim/Physics-Bounce-GT-v0",
        max_steps=5,
        progress=False,
        env_kwargs={"colours": "random"},
    )
    generate(GenerateConfig(episodes=2, out=str(root / "s.zarr"), captions=True, **kw))
    generate(GenerateConfig(episodes=1, out=str(root / "plain.zarr"), **kw))
    env = {"env_id": "cosmos_sim/Physics-Bounce-GT-v0", "action_layout": ("noop",)}
    tiny_world_model("diffusion", context_frames=2, env=env).save_pretrained(root / "base")
    return root


def _args(root, out, steps, **kw):
    return Args(
        data=(str(root / "s.zarr"),),
        val_data=(str(root / "s.zarr"),),
        init_from=str(root / "base"),
        out=str(out),
        steps=steps,
        batch_size=4,
        encoder_steps=2,
        eval_every=2,
        save_every=2,
        warmup=1,
        cache_dir=str(root / "cache"),
        **kw,
    )


def test_tiny_run_outputs_and_exact_resume(setup, tmp_path):
    train(_args(setup, tmp_path / "a", 4))
    world = TextWorld.from_pretrained(tmp_path / "a" / "best", device="cpu")
    assert world.wm.config.family == "text-diffusion" and world.encoder.dim == 64
    rows = [json.loads(line) for line in (tmp_path / "a" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [2, 4] and {"v2w_prompt", "t2w_null"} <= set(rows[0])
    # the same run stopped at step 2 and resumed: the same weights
    train(_args(setup, tmp_path / "b", 2))
    train(_args(setup, tmp_path / "b", 4))
    a = WorldModel.from_pretrained(tmp_path / "a" / "last", device="cpu").dynamics.state_dict()
    b = WorldModel.from_pretrained(tmp_path / "b" / "last", device="cpu").dynamics.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_bad_inputs(setup, tmp_path):
    with pytest.raises(StoreError, match="without captions"):
        train(Args(data=(str(setup / "plain.zarr"),), init_from=str(setup / "base"), out=str(tmp_path / "c")))
    with pytest.raises(ConfigError, match="prompt_dropout=1.5"):
        Args(data=("x",), prompt_dropout=1.5)
    with pytest.raises(ConfigError, match="--data"):
        Args()
