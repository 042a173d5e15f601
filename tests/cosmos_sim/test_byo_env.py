"""Bring your own environment, end to end: the README's worked example (Reacher-v5 -> dataset -> tokenizer
fine-tune -> world model -> ``cosmos_sim/WFM-v0`` -> PPO -> the real env) runs as written there, at a toy
size; and what ``store_env_info`` takes from a store into the bundle."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import cosmos_sim  # noqa: F401  (registers the ids)
from cosmos_sim.cli import main
from cosmos_sim.data.generate import GenerateConfig, generate
from cosmos_sim.data.store import TrajectoryStore
from cosmos_sim.train.wfm import store_env_info

README = Path(__file__).resolve().parents[2] / "README.md"

#: What makes each README command a toy: flags replaced, flags added.
TOY = {
    "generate": ({"--episodes": "2", "--workers": "1"}, ["--no-progress"]),
    "train-tokenizer": (
        {"--steps": "1", "--warmup": "1"},
        [
            "--batch-size",
            "2",
            "--clip-frames",
            "5",
            "--eval-every",
            "1",
            "--eval-clips",
            "2",
            "--no-progress",
        ],
    ),
    "train-wfm": (
        {"--steps": "2"},
        [
            *("--dim", "32", "--depth", "1", "--heads", "2", "--context-frames", "2", "--batch-size", "4"),
            *("--warmup", "1", "--eval-every", "2", "--eval-episodes", "1", "--rollout-steps", "4"),
            *("--state-steps", "20", "--no-progress"),
        ],
    ),
    "train-policy": ({"--total-steps": "32", "--num-envs": "2"}, ["--num-steps", "16", "--no-progress"]),
}


def _section() -> str:
    text = README.read_text()
    start = text.index("## Bring your own environment")
    return text[start : text.index("\n## ", start + 1)]


def readme_commands(tmp: Path) -> list[list[str]]:
    """The ``cosmos-sim`` commands of the README section as argv lists: shell variables expanded, paths
    moved under ``tmp``, sizes made toy (``TOY``)."""
    (block,) = re.findall(r"```bash\n(.*?)```", _section(), flags=re.S)
    lines = block.replace("\\\n", " ").splitlines()
    variables = dict(
        (m.group(1), shlex.split(m.group(2))[0])
        for line in lines
        if (m := re.fullmatch(r"(\w+)=(.*)", line.strip()))
    )
    commands = []
    for line in lines:
        if not line.startswith("cosmos-sim "):
            continue
        argv = [variables.get(a[1:], a) if a.startswith("$") else a for a in shlex.split(line, comments=True)]
        argv = [
            a.replace("data/reacher", f"{tmp}/data").replace("runs/reacher", f"{tmp}/runs") for a in argv[1:]
        ]
        replace, add = TOY[argv[0]]
        argv = [replace.get(prev, a) for prev, a in zip(["", *argv], argv, strict=False)]
        commands.append(argv + add)
    return commands


def readme_python(tmp: Path) -> list[str]:
    """The section's Python blocks with the run paths moved under ``tmp``."""
    blocks = re.findall(r"```python\n(.*?)```", _section(), flags=re.S)
    return [b.replace("runs/reacher", f"{tmp}/runs") for b in blocks]


def test_the_readme_example_runs_end_to_end_at_a_toy_size(tmp_path):
    commands = readme_commands(tmp_path)
    assert [c[0] for c in commands] == [
        "generate",
        "generate",
        "train-tokenizer",
        "train-wfm",
        "train-policy",
    ]
    for argv in commands[:4]:  # dataset, held-out seeds, tokenizer fine-tune, world model
        assert main(argv) == 0, argv
    bundle = tmp_path / "runs" / "wfm" / "best"
    config = json.loads((bundle / "config.json").read_text())["config"]
    camera = json.loads(commands[0][commands[0].index("--env-kwargs") + 1])
    assert config["env_id"] == "Reacher-v5" and config["max_episode_steps"] == 50
    assert config["env_kwargs"] == {**camera, "render_mode": "rgb_array", "width": 64, "height": 64}
    assert (bundle / "tokenizer" / "model.safetensors").is_file()  # the fine-tuned tokenizer travels with it

    # the bundle as an env: the Gymnasium checker, reset frames = the recorded ones, natively batched
    env = gym.make("cosmos_sim/WFM-v0", checkpoint=str(bundle))
    check_env(env.unwrapped)
    val = TrajectoryStore.open(tmp_path / "data" / "val.zarr")
    obs, _ = env.reset(seed=int(val.episode_seeds[0]))
    assert np.array_equal(obs, val.episode(0, keys=["rgb"])["rgb"][0])
    envs = gym.make_vec("cosmos_sim/WFM-v0", num_envs=3, checkpoint=str(bundle))
    assert type(envs).__name__ == "GenericWorldModelVectorEnv" and envs.max_episode_steps == 50
    assert envs.reset(seed=0)[0].shape == (3, 64, 64, 3)

    scope: dict = {}
    env_block, judge_block = readme_python(tmp_path)
    exec(env_block, scope)
    assert scope["obs"].shape == (64, 64, 3) and scope["envs"].num_envs == 32

    assert main(commands[4]) == 0  # PPO inside the world model
    exec(judge_block, scope)  # and judged in the real Reacher-v5
    assert np.isfinite(scope["episode_return"]) and scope["episode_return"] < 0


def _store(tmp: Path, name: str, **kw) -> str:
    cfg = GenerateConfig(episodes=1, out=str(tmp / name), max_steps=2, progress=False, **kw)
    generate(cfg)
    return cfg.out


def test_store_env_info_takes_the_env_id_kwargs_and_episode_length_the_store_was_made_with(tmp_path):
    camera = {"default_camera_config": {"distance": 0.7, "elevation": -90.0}}
    info = store_env_info(
        _store(tmp_path, "r.zarr", env_id="Reacher-v5", resolution=(48, 32), env_kwargs=camera)
    )
    assert (
        info["env_id"] == "Reacher-v5" and info["max_episode_steps"] == 50
    )  # the env's limit, not max_steps
    assert info["env_kwargs"] == {**camera, "render_mode": "rgb_array", "width": 48, "height": 32}
    assert (info["height"], info["width"], info["action_layout"]) == (32, 48, ["a0", "a1"])
    # control maps change no frame: left out of the bundle (they would only slow its GT scene)
    manip = _store(tmp_path, "m.zarr", env_id="cosmos_sim/Manipulation-GT-v0", maps=("depth",))
    assert store_env_info(manip)["env_kwargs"] == {"render_mode": "rgb_array"}
    # a store made by hand (no env attrs): the frame size, as before
    hand = TrajectoryStore.create(tmp_path / "h.zarr", attrs={"action_layout": ["a"]})
    hand.add_episode({"rgb": np.zeros((2, 16, 24, 3), np.uint8), "action": np.zeros((2, 1), np.float32)})
    info = store_env_info(str(tmp_path / "h.zarr"))
    assert info["env_kwargs"] == {"width": 24, "height": 16} and info["max_episode_steps"] is None


def test_a_store_with_env_kwargs_that_are_not_an_object_is_refused(tmp_path):
    store = TrajectoryStore.create(tmp_path / "b.zarr", attrs={"action_layout": ["a"], "env_kwargs": [1, 2]})
    store.add_episode({"rgb": np.zeros((2, 8, 8, 3), np.uint8), "action": np.zeros((2, 1), np.float32)})
    with pytest.raises(ValueError, match="env_kwargs .* expected a JSON object"):
        store_env_info(str(tmp_path / "b.zarr"))


TINY_WFM = ["--steps", "4", "--dim", "32", "--depth", "1", "--heads", "2", "--context-frames", "2"]
TINY_WFM += ["--batch-size", "4", "--warmup", "1", "--eval-every", "2", "--no-progress"]


def test_a_renderer_of_state_trains_on_the_recorded_mujoco_state_and_runs_as_an_env(tmp_path, capsys):
    camera = {
        "default_camera_config": {"distance": 0.55, "elevation": -90.0, "azimuth": 90.0, "lookat": [0, 0, 0]}
    }
    train = _store(tmp_path, "train.zarr", env_id="Reacher-v5", resolution=(64, 64), env_kwargs=camera)
    store = TrajectoryStore.open(train)
    assert store.read("qpos", 0, 3).shape == (3, 4) and store.read("qvel", 0, 3).shape == (3, 4)
    out = tmp_path / "wfm"
    argv = [
        "train-wfm",
        "--data",
        train,
        "--tokenizer",
        "cv4x8x8-nano",
        "--render-from-state",
        "--state-steps",
        "20",
    ]
    assert main([*argv, *TINY_WFM, "--out", str(out)]) == 0
    bundle = out / "best"
    assert (bundle / "body_maps.json").is_file() and (bundle / "state" / "config.json").is_file()
    config = json.loads((bundle / "config.json").read_text())["config"]
    assert config["dynamics"]["state_bodies"] == [-1, 0, 1, -1] and config["action_layout"][:3] == [
        "a0",
        "a1",
        "body0_u",
    ]

    env = gym.make("cosmos_sim/WFM-v0", checkpoint=str(bundle))
    check_env(env.unwrapped)
    first, _ = env.reset(seed=int(store.episode_seeds[0]))
    assert np.array_equal(first, store.read("rgb", 0, 1)[0])  # the source env's render, as recorded
    action = store.read("action", 0, 1)[0]
    obs, _, _, _, info = env.step(action)
    assert np.abs(info["qpos"] - store.read("qpos", 1, 2)[0]).max() < 0.05  # the state model's step
    env.reset(seed=int(store.episode_seeds[0]))
    assert np.array_equal(env.step(action)[0], obs)  # same seed, same action: same frame
    with pytest.raises(ValueError, match="reset with a seed"):
        env.reset(options={"frames": first})
    with pytest.raises(ValueError, match="cosmos_sim/WFM-v0"):
        gym.make("cosmos_sim/Manipulation-WFM-v0", checkpoint=str(bundle))

    # what it cannot train from
    assert main([*argv, *TINY_WFM, "--val-data", train, "--out", str(tmp_path / "x")]) != 0
    assert "without --val-data" in capsys.readouterr().err
    scene = _store(tmp_path, "scene.zarr", env_id="cosmos_sim/Physics-Bounce-GT-v0")
    argv[2] = scene
    assert main([*argv, *TINY_WFM, "--out", str(tmp_path / "y")]) != 0
    assert "no qpos/qvel" in capsys.readouterr().err
