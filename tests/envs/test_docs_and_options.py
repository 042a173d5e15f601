"""Every registered env documents itself as Gymnasium's own envs do, and takes its options one way:
``Env(config=None, *, render_mode=..., **overrides)`` with overrides checked against its config class."""

import dataclasses
import re

import gymnasium as gym
import pytest
import torch
from gymnasium.envs.registration import load_env_creator

import cosmos_sim  # noqa: F401  (registers the ids)
from cosmos_sim.envs import registered_ids, wfm_ids
from cosmos_sim.world_models.wfm import tiny_world_model

GT_IDS = registered_ids()
WFM_IDS = wfm_ids()
SECTIONS = (
    "Description",
    "Action Space",
    "Observation Space",
    "Rewards",
    "Starting State",
    "Episode End",
    "Arguments",
    "Version History",
)


def _env_classes(env_id: str) -> list[type]:
    """The classes ``gym.make`` and (where registered) ``gym.make_vec`` build for ``env_id``."""
    spec = gym.spec(env_id)
    points = [spec.entry_point, spec.vector_entry_point]
    return [load_env_creator(p) for p in points if p is not None]


def _sections(doc: str) -> dict[str, str]:
    """``## Heading`` -> the text under it, in order."""
    parts = re.split(r"^\s*## (.+?)\s*$", doc, flags=re.MULTILINE)
    return {head: body.strip() for head, body in zip(parts[1::2], parts[2::2], strict=True)}


def _argument_defaults(arguments: str) -> dict[str, str]:
    """Parameter -> default as written in the Arguments table (rows ``| `name` | type | `default` | ... |``)."""
    rows = re.findall(r"^\s*\|\s*`(\w+)`\s*\|[^|]*\|\s*([^|]*?)\s*\|", arguments, flags=re.MULTILINE)
    return {name: default.strip("`") for name, default in rows}


@pytest.mark.parametrize("env_id", GT_IDS + WFM_IDS)
def test_env_class_docstring_has_gymnasiums_sections_and_documents_every_option(env_id):
    for cls in _env_classes(env_id):
        doc = cls.__dict__.get("__doc__") or ""  # the class's own, not one inherited
        sections = _sections(doc)
        assert tuple(sections) == SECTIONS, f"{cls.__name__}: sections {tuple(sections)}"
        assert all(sections.values()), f"{cls.__name__}: an empty section"
        assert "### Termination" in sections["Episode End"] and "### Truncation" in sections["Episode End"]
        # every config field is in the Arguments table, with the config class's own default
        documented = _argument_defaults(sections["Arguments"])
        assert {"config", "render_mode"} <= set(documented), cls.__name__
        for field in dataclasses.fields(cls.config_class):
            assert field.name in documented, f"{cls.__name__}: `{field.name}` missing from ## Arguments"
            written = eval(documented[field.name], {"__builtins__": {}})  # noqa: S307  (our own docstring)
            assert written == field.default, (
                f"{cls.__name__}.{field.name}: documented {written!r}, is {field.default!r}"
            )


@pytest.mark.parametrize("env_id", GT_IDS)
def test_an_unknown_option_is_refused_naming_it_and_the_valid_ones(env_id):
    with pytest.raises(ValueError) as e:
        gym.make(env_id, widht=64)
    msg = str(e.value)
    assert "unknown option(s) ['widht']" in msg and "did you mean width=" in msg
    assert "height, maps" in msg and "config=" in msg and "render_mode=" in msg


@pytest.mark.parametrize("env_id", GT_IDS)
def test_config_holds_the_registered_defaults_and_reflects_overrides(env_id):
    env = gym.make(env_id)
    cls = type(env.unwrapped)
    fields = {f.name for f in dataclasses.fields(cls.config_class)}
    id_kwargs = {k: v for k, v in gym.spec(env_id).kwargs.items() if k in fields}  # e.g. the reach id's task
    # the id's defaults are the config class's, with the id's own kwargs
    assert env.unwrapped.config == cls.config_class(**id_kwargs)
    env.close()
    env = gym.make(env_id, width=40, height=24, maps="depth")
    cfg = env.unwrapped.config
    assert isinstance(cfg, cls.config_class) and (cfg.width, cfg.height, cfg.maps) == (40, 24, ("depth",))
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.width = 8
    obs, info = env.reset(seed=0)
    frames = obs.values() if isinstance(obs, dict) else [obs]
    assert all(f.shape == (24, 40, 3) for f in frames if f.ndim == 3)
    assert set(next(iter(info["maps"].values()))) == {"depth"}
    env.close()
    # a whole config and overrides on top of it; the config's other fields stay
    base = dataclasses.replace(cls.config_class(), height=16)
    env = cls(base, width=32) if "Physics" not in env_id else cls(env.unwrapped.scenario, base, width=32)
    assert (env.config.width, env.config.height) == (32, 16)
    env.close()
    with pytest.raises(ValueError, match="config must be a"):
        cls(object()) if "Physics" not in env_id else cls("bounce", object())


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory) -> dict[str, str]:
    """A tiny random checkpoint per WFM id (as in test_wfm_env.py and test_driving_wfm.py)."""
    out = {}
    for env_id in WFM_IDS:  # the driving id runs multiview bundles, the others single-view ones
        family = "multiview" if "Driving" in env_id else "diffusion"
        path = tmp_path_factory.mktemp("wfm") / family
        wm = tiny_world_model(family)
        with torch.no_grad():
            wm.head.mlp[-1].bias[1] = -20.0
        wm.save_pretrained(path, dtype=None)
        out[env_id] = str(path)
    return out


@pytest.mark.parametrize("env_id", WFM_IDS)
def test_wfm_envs_refuse_unknown_options_before_loading_and_keep_overrides(env_id, checkpoints):
    for make in (gym.make, lambda i, **kw: gym.make_vec(i, num_envs=2, **kw)):
        with pytest.raises(
            ValueError, match=r"unknown option\(s\) \['chekpoint'\].*did you mean checkpoint="
        ):
            make(env_id, chekpoint=checkpoints[env_id])
    env = gym.make(env_id, checkpoint=checkpoints[env_id], sampler_steps=1, device="cpu")
    cfg = env.unwrapped.config
    assert isinstance(cfg, type(env.unwrapped).config_class)
    assert (cfg.checkpoint, cfg.sampler_steps, cfg.paired) == (checkpoints[env_id], 1, False)
    assert env.unwrapped.model.config.sampler_steps == 1
    env.close()
    venv = gym.make_vec(env_id, num_envs=2, checkpoint=checkpoints[env_id], max_episode_steps=7)
    assert venv.config.max_episode_steps == venv.max_episode_steps == 7 and venv.num_envs == 2
    venv.close()
    with pytest.raises(ValueError, match="sampler_steps must be >= 1"):
        gym.make(env_id, checkpoint=checkpoints[env_id], sampler_steps=0)
    # the registered defaults: the shipped checkpoint, and the id's time limit for the vector env
    vec_cls = load_env_creator(gym.spec(env_id).vector_entry_point)
    assert vec_cls.config_class().max_episode_steps == gym.spec(env_id).max_episode_steps
