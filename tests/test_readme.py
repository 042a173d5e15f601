"""The README's Python examples run as written (docs that match the code)."""

import re
from pathlib import Path

import cosmos_sim  # noqa: F401
from cosmos_sim.data.generate import GenerateConfig, generate

README = Path(__file__).resolve().parents[1] / "README.md"


def _python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_readme_has_the_two_setup_commands():
    text = README.read_text()
    assert "./run demo" in text and "./run test" in text
    ci = (README.parent / ".ci" / "run").read_text()
    assert "./run test" in ci


def test_env_example_runs():
    block = next(b for b in _python_blocks() if "gym.make" in b)
    scope: dict = {}
    exec(block, scope)
    assert scope["obs"].shape == (64, 64, 3) and scope["depth"].shape == (64, 64)
    assert scope["K"].shape == (3, 3)


def test_store_example_runs(tmp_path):
    block = next(b for b in _python_blocks() if "TrajectoryStore" in b)
    store = tmp_path / "manip.zarr"
    generate(
        GenerateConfig(
            env_id="cosmos_sim/Manipulation-GT-v0",
            episodes=2,
            out=str(store),
            policy="expert",
            resolution=(64, 64),
            maps=("depth",),
            max_steps=8,
            progress=False,
        )
    )
    scope: dict = {}
    exec(block.replace("data/manip.zarr", str(store)), scope)
    item = scope["item"]
    assert tuple(item["rgb"].shape) == (5, 3, 64, 64) and tuple(item["action"].shape) == (5, 7)
