"""bench dream-to-real on a tiny budget: every arm runs, is evaluated in GT, and the outputs are written."""

import json

import numpy as np
import torch

import cosmos_sim  # noqa: F401
from cosmos_sim.bench import BENCHMARKS, run_benchmark
from cosmos_sim.bench.dream_to_real import Config, _GTEvaluator
from cosmos_sim.data.store import TrajectoryStore

GT_ID = "cosmos_sim/Manipulation-GT-v0"
ARMS = ["bc", "ppo-gt", "ppo-wfm", "bc+ppo-gt", "bc+ppo-wfm"]


def _store(path) -> str:
    rng = np.random.default_rng(0)
    store = TrajectoryStore.create(path, attrs={"env_id": GT_ID})
    for e in range(2):
        store.add_episode(
            {
                "rgb": rng.integers(0, 256, (6, 64, 64, 3), dtype=np.uint8),
                "action": rng.uniform(-1, 1, (6, 7)).astype(np.float32),
            },
            seed=e,
        )
    store.close()
    return str(path)


def test_evaluator_fires_once_per_mark():
    calls = []
    ev = _GTEvaluator([100, 200], episodes=1)
    ev.evaluate = lambda step, net: calls.append(step)
    for step in (50, 120, 150, 260, 300):
        ev(step, None)
    assert calls == [120, 260]


def test_tiny_run_writes_json_markdown_and_plot(tmp_path):
    from cosmos_sim.world_models.wfm import tiny_world_model

    wm = tiny_world_model("diffusion")
    with torch.no_grad():
        wm.head.mlp[-1].bias[1] = -20.0
    wm.save_pretrained(tmp_path / "wfm", dtype=None)
    cfg = Config(
        steps=32,
        num_envs=2,
        num_steps=16,
        eval_points=1,
        eval_episodes=1,
        bc_epochs=1,
        bc_data=(_store(tmp_path / "expert.zarr"),),
        wfm=str(tmp_path / "wfm"),
        keep_policies=str(tmp_path / "policies"),
    )
    assert "dream-to-real" in BENCHMARKS
    result = run_benchmark("dream-to-real", str(tmp_path / "out"), config=cfg)
    data = json.loads((tmp_path / "out" / "dream_to_real.json").read_text())
    assert (tmp_path / "out" / "dream_to_real.md").is_file() and (
        tmp_path / "out" / "dream_to_real.png"
    ).is_file()
    assert [r["arm"] for r in data["rows"]] == ARMS
    by = {r["arm"]: r for r in result.rows}
    assert by["bc"]["env_steps"] == 0 and all(by[a]["env_steps"] == 32 for a in ARMS[1:])
    assert [p[0] for p in by["bc+ppo-wfm"]["gt_success_curve"]] == [0, 32]  # BC start, then the end
    assert all(0 <= r["gt_success"] <= 1 for r in result.rows)
    assert data["figures"]["env_steps_budget"] == 32 and "gt_success_bc_ppo_wfm" in data["figures"]
    assert (tmp_path / "policies" / "bc+ppo-wfm" / "config.json").is_file()
    assert "goal: >= 80 %" in data["notes"]
