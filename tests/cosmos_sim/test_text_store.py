"""Captions stored with each episode: ``generate --captions`` -> ``TrajectoryStore.episode_text``."""

import json

import pytest

from cosmos_sim.data.generate import GenerateConfig, generate
from cosmos_sim.data.store import TEXT_FILE, TrajectoryStore


def _gen(out, captions, episodes=2, seed=0):
    return generate(
        GenerateConfig(
            env_id="cosmos_sim/Physics-Bounce-GT-v0",
            episodes=episodes,
            out=str(out),
            max_steps=4,
            seed=seed,
            env_kwargs={"colours": "random"},
            captions=captions,
            progress=False,
        )
    )


def test_generate_with_captions_round_trip(tmp_path):
    _gen(tmp_path / "s.zarr", True)
    store = TrajectoryStore.open(tmp_path / "s.zarr")
    texts = store.episode_texts()
    assert len(texts) == 2 and all(t["seed"] == s for t, s in zip(texts, store.episode_seeds, strict=True))
    assert texts[1]["facts"]["scene"] == "bounce" and "ball" in texts[1]["short"]
    assert store.episode_text(-1) == texts[1]
    assert "__text__" not in store.keys()  # never a data key


def test_stores_without_captions_read_none_and_uncommitted_lines_are_ignored(tmp_path):
    _gen(tmp_path / "s.zarr", False, episodes=1)
    store = TrajectoryStore.open(tmp_path / "s.zarr")
    assert store.episode_texts() == [None]
    with open(tmp_path / "s.zarr" / TEXT_FILE, "a") as f:  # a killed writer's line for episode 1
        f.write(json.dumps({"episode": 1, "short": "x"}) + "\n")
    assert TrajectoryStore.open(tmp_path / "s.zarr").episode_texts() == [None]
    with pytest.raises(IndexError):
        store.episode_text(3)
