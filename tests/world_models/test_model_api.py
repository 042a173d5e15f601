"""One pretrained-model API for the tokenizer, the world model and the policy network (world_models/pretrained.py)."""

import numpy as np
import pytest
import torch
from gymnasium import spaces

from cosmos_sim.errors import CheckpointError, ConfigError
from cosmos_sim.policies.networks import ActorCritic, make_network
from cosmos_sim.world_models import pretrained
from cosmos_sim.world_models.pretrained import PretrainedModel, resolve_device
from cosmos_sim.world_models.proprio import ProprioConfig, ProprioModel
from cosmos_sim.world_models.state_estimator import StateEstimator, StateEstimatorConfig
from cosmos_sim.world_models.tokenizer import Tokenizer
from cosmos_sim.world_models.wfm import WorldModel, tiny_world_model


def _tokenizer():
    return tiny_world_model("diffusion", seed=1).tokenizer


def _policy():
    torch.manual_seed(1)
    return make_network(
        spaces.Box(0, 255, (16, 16, 3), np.uint8),
        spaces.Box(-1, 1, (2,), np.float32),
        channels=(8, 8),
        hidden=16,
    )


def _tokenizer_outputs(tok):
    video = torch.rand(2, 5, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    return [tok.encode(video), tok.reconstruct(video)]


def _world_model_outputs(wm):
    frames = np.random.default_rng(0).integers(0, 256, (2, 1, 64, 64, 3), dtype=np.uint8)
    state = wm.start(wm.encode(frames).expand(-1, wm.context_frames, -1, -1, -1))
    noise = wm.noise([torch.Generator().manual_seed(i) for i in range(2)])
    state, z = wm.predict_next(state, np.full((2, 7), 0.3, np.float32), noise=noise)
    return [
        z,
        torch.from_numpy(wm.decode(z)),
        *map(torch.from_numpy, wm.reward(z, np.zeros((2, 7), np.float32))),
    ]


def _policy_outputs(net):
    obs = torch.from_numpy(np.random.default_rng(0).integers(0, 256, (3, 16, 16, 3), dtype=np.uint8))
    with torch.no_grad():
        dist, value = net(obs)
    return [dist.mean, dist.stddev, value]


def _state_estimator():
    torch.manual_seed(1)
    return StateEstimator(StateEstimatorConfig(("ee_x", "goal_y"), (0.1, 0.2), (0.3, 0.4), channels=(4, 8)))


def _state_estimator_outputs(est):
    frames = np.random.default_rng(0).integers(0, 256, (2, 64, 64, 3), dtype=np.uint8)
    return [torch.from_numpy(est.predict(frames))]


def _proprio():
    torch.manual_seed(1)
    return ProprioModel(
        ProprioConfig(
            ("ee_x", "ee_z"), 3, (0.1, 0.5), (0.2, 0.1), (0.01, 0.02), hidden=8, relative=(("ee_x", "ee_z"),)
        )
    )


def _proprio_outputs(model):
    p = np.array([[0.1, 0.5], [0.2, 0.4]], np.float32)
    a = np.array([[1.0, 0.0, -1.0], [0.5, 0.5, 0.5]], np.float32)
    return [torch.from_numpy(model.step(p, p - 0.01, a, a[::-1]))]


# model class, a small instance, its outputs, a shipped name (None: none ships; one is made for the test)
MODELS = {
    "tokenizer": (Tokenizer, _tokenizer, _tokenizer_outputs, "cv4x8x8-nano"),
    "world model": (WorldModel, tiny_world_model, _world_model_outputs, "manip-dit-nano"),
    "policy": (ActorCritic, _policy, _policy_outputs, None),
    "state estimator": (StateEstimator, _state_estimator, _state_estimator_outputs, "manip-state-nano"),
    "proprioception": (ProprioModel, _proprio, _proprio_outputs, None),
}
KINDS = list(MODELS)


def _other(kind):
    return MODELS[KINDS[(KINDS.index(kind) + 1) % len(KINDS)]][0]


@pytest.mark.parametrize("kind", KINDS)
def test_save_and_load_give_the_same_outputs(kind, tmp_path):
    cls, make, outputs, _ = MODELS[kind]
    model = make()
    assert isinstance(model, PretrainedModel)
    model.save_pretrained(tmp_path / "m", dtype=None, extra={"step": 3})
    back = cls.from_pretrained(tmp_path / "m", device="cpu")
    assert type(back) is cls and not back.training and back.checkpoint_extra == {"step": 3}
    for a, b in zip(outputs(model), outputs(back), strict=True):
        assert torch.equal(a, b)


@pytest.mark.parametrize("kind", KINDS)
def test_a_checkpoint_of_another_kind_is_refused_naming_both_kinds(kind, tmp_path):
    cls, make, _, _ = MODELS[kind]
    make().save_pretrained(tmp_path / "m")
    other = _other(kind)
    with pytest.raises(
        CheckpointError,
        match=rf"config\.json is a '{cls.checkpoint_kind}' checkpoint, "
        rf"not a '{other.checkpoint_kind}' one",
    ):
        other.from_pretrained(tmp_path / "m", device="cpu")


@pytest.mark.parametrize("kind", KINDS)
def test_truncated_or_missing_weights_are_a_checkpoint_error_naming_the_file(kind, tmp_path):
    cls, make, _, _ = MODELS[kind]
    weights = make().save_pretrained(tmp_path / "m") / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-100])
    with pytest.raises(CheckpointError, match=r"m/model\.safetensors is truncated or corrupt"):
        cls.from_pretrained(tmp_path / "m", device="cpu")
    weights.unlink()
    with pytest.raises(CheckpointError, match=r"m/model\.safetensors is missing"):
        cls.from_pretrained(tmp_path / "m", device="cpu")


@pytest.mark.parametrize("kind", KINDS)
def test_a_shipped_name_resolves(kind, tmp_path, monkeypatch):
    cls, make, _, name = MODELS[kind]
    if name is None:  # none ships (policies, proprioception): make assets/<folder>/tiny for the test
        monkeypatch.setattr(pretrained, "ASSETS_DIR", tmp_path / "assets")
        name = "tiny"
        make().save_pretrained(tmp_path / "assets" / cls.shipped_folder / name)
    assert cls.resolve_pretrained(name) == pretrained.ASSETS_DIR / cls.shipped_folder / name
    assert type(cls.from_pretrained(name, device="cpu")) is cls
    with pytest.raises(
        CheckpointError, match=rf"'nope' is neither a directory nor a shipped name \(shipped: .*{name}"
    ):
        cls.from_pretrained("nope", device="cpu")


@pytest.mark.parametrize("kind", KINDS)
def test_a_config_the_class_cannot_read_names_the_file(kind, tmp_path):
    cls, make, _, _ = MODELS[kind]
    d = make().save_pretrained(tmp_path / "m")
    text = (d / "config.json").read_text()
    (d / "config.json").write_text(text.replace('"config": {', '"config": {"no_such_field": 1, ', 1))
    with pytest.raises(CheckpointError, match=rf"config\.json has an unknown {cls.label} config"):
        cls.from_pretrained(d, device="cpu")


def test_a_device_that_is_not_there_is_a_config_error():
    with pytest.raises(ConfigError, match="'gpu' is not a torch device"):
        resolve_device("gpu")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="'cuda' is not available here"):
            Tokenizer.from_pretrained("cv4x8x8-nano", device="cuda")
    assert resolve_device("cpu") == torch.device("cpu")
