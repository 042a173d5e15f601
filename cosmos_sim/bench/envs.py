"""GT env speed and dataset generation throughput.

Env cases run on ONE core (the process is pinned with ``sched_setaffinity`` where the OS allows
it, so llvmpipe's render threads share that core too): steps/s with random actions at 64x64 and
128x128, RGB alone and RGB+depth+seg (``maps="depth,seg"``; edges/blur are cheap OpenCV passes on
the RGB), the maps of every camera and, in scenes with several, of the observation camera alone
(``map_cameras``: its RGB and maps are what a Transfer or a policy uses; each more camera is one more
render pass). ``maps_cost`` = RGB-only steps/s over the steps/s with maps. Generation runs
``cosmos_sim.data.generate`` with 1 and 2 worker processes on all cores and reports frames/s and
bytes per frame on disk (zarr, compressed).
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass

import gymnasium as gym

import cosmos_sim  # noqa: F401  (registers the ids)
from cosmos_sim.bench.common import BenchResult, check_at_least, config_error

ENV_CASES: dict[str, str] = {
    "manipulation": "cosmos_sim/Manipulation-GT-v0",
    "manipulation_bullet": "cosmos_sim/Manipulation-Bullet-GT-v0",
    "driving": "cosmos_sim/Driving-GT-v0",
    "physics_collision": "cosmos_sim/Physics-Collision-GT-v0",
    "physics_dominoes": "cosmos_sim/Physics-Dominoes-GT-v0",
}


@dataclass(frozen=True)
class Config:
    """Options of ``cosmos-sim bench envs`` (``--quick``: at most 100 timed steps and 4 episodes)."""

    cases: tuple[str, ...] = tuple(ENV_CASES)
    """Env cases timed (names of ENV_CASES)."""
    sizes: tuple[int, ...] = (64, 128)
    """Square resolutions timed."""
    steps: int = 400
    """Timed random-action steps per env case."""
    episodes: int = 48
    """Expert episodes per generation run."""
    workers: tuple[int, ...] = (1, 2)
    """Worker counts of the generation runs."""

    def __post_init__(self) -> None:
        check_config(self)


def check_config(cfg: Config) -> Config:
    """``cfg`` if every option is valid; ValueError saying the value, the expectation and the flag otherwise."""
    unknown = [c for c in cfg.cases if c not in ENV_CASES]
    if unknown:
        raise config_error("envs", "cases", cfg.cases, f"names from {', '.join(ENV_CASES)}")
    check_at_least("envs", cfg, 1, "sizes", "steps", "episodes")
    if min(cfg.workers, default=1) < 1:  # (no workers: no generation run)
        raise config_error("envs", "workers", cfg.workers, "worker counts >= 1")
    return cfg


@contextmanager
def one_core():
    """Pin this process to a single core for the duration (no-op where unsupported)."""
    if not hasattr(os, "sched_setaffinity"):
        yield None
        return
    before = os.sched_getaffinity(0)
    core = min(before)
    os.sched_setaffinity(0, {core})
    try:
        yield core
    finally:
        os.sched_setaffinity(0, before)


def env_steps_per_s(
    env_id: str, size: int, maps: str | None, steps: int, seed: int = 0, map_cameras: str | None = None
) -> tuple[float, float]:
    """Random-action steps per wall second and per CPU second of this process (resets included,
    env construction excluded). On a shared machine the CPU-second figure is the steadier one."""
    env = gym.make(env_id, width=size, height=size, maps=maps, map_cameras=map_cameras)
    env.action_space.seed(seed)
    env.reset(seed=seed)
    for _ in range(5):  # warm-up: renderer contexts, caches
        env.step(env.action_space.sample())
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(steps):
        _, _, term, trunc, _ = env.step(env.action_space.sample())
        if term or trunc:
            env.reset()
    dt, dc = time.perf_counter() - t0, time.process_time() - c0
    env.close()
    return steps / dt, steps / dc


def generation_throughput(env_id: str, episodes: int, workers: int, size: int, maps: tuple[str, ...]) -> dict:
    from cosmos_sim.data.generate import GenerateConfig, generate

    with tempfile.TemporaryDirectory() as tmp:
        cfg = GenerateConfig(
            env_id=env_id,
            episodes=episodes,
            out=os.path.join(tmp, "gen.zarr"),
            policy="expert",
            workers=workers,
            resolution=(size, size),
            maps=maps,
            progress=False,
        )
        summary = generate(cfg)
    return summary


def run(config: Config, out_dir: str, quick: bool = False) -> BenchResult:
    """Time every env case and generation run of ``config`` (nothing is written into ``out_dir`` but the result)."""
    cfg = config
    if quick:
        cfg = dataclasses.replace(cfg, steps=min(cfg.steps, 100), episodes=min(cfg.episodes, 4))
    steps = cfg.steps
    rows: list[dict] = []
    figures: dict[str, float] = {}
    with one_core() as core:
        for name in cfg.cases:
            env_id = ENV_CASES[name]
            probe = gym.make(env_id)
            cameras = probe.unwrapped.cameras
            probe.close()
            variants = [(None, "rgb", None), ("depth,seg", "rgb_depth_seg", None)]
            if len(cameras) > 1:
                variants.append(("depth,seg", f"rgb_depth_seg_{cameras[0]}_only", cameras[0]))
            for size in cfg.sizes:
                for maps, label, map_cameras in variants:
                    sps, spc = env_steps_per_s(env_id, size, maps, steps, map_cameras=map_cameras)
                    rows.append(
                        {
                            "case": "env_step",
                            "env": env_id,
                            "resolution": f"{size}x{size}",
                            "outputs": label,
                            "steps_per_s_1core": round(sps, 1),
                            "steps_per_cpu_s": round(spc, 1),
                        }
                    )
                    figures[f"{name}_steps_per_s_{size}_{label}"] = round(sps, 1)
                    figures[f"{name}_steps_per_cpu_s_{size}_{label}"] = round(spc, 1)
                    if maps:
                        rgb_spc = figures[f"{name}_steps_per_cpu_s_{size}_rgb"]
                        figures[f"{name}_maps_cost_{size}_{label}"] = round(rgb_spc / spc, 2)
                        rows[-1]["maps_cost"] = round(rgb_spc / spc, 2)
    episodes = cfg.episodes
    for workers in cfg.workers:
        s = generation_throughput("cosmos_sim/Manipulation-GT-v0", episodes, workers, 64, ("depth", "seg"))
        rows.append(
            {
                "case": "generate",
                "env": "cosmos_sim/Manipulation-GT-v0",
                "resolution": "64x64",
                "outputs": "rgb_depth_seg",
                "workers": workers,
                "episodes": s["episodes"],
                "frames_per_s": round(s["frames_per_s"], 1),
                "bytes_per_frame": round(s["bytes_per_frame"], 1),
            }
        )
        figures[f"generate_frames_per_s_workers{workers}"] = round(s["frames_per_s"], 1)
        figures[f"generate_bytes_per_frame_workers{workers}"] = round(s["bytes_per_frame"], 1)
    if {1, 2} <= set(cfg.workers):
        figures["generate_speedup_2_workers"] = round(
            figures["generate_frames_per_s_workers2"] / figures["generate_frames_per_s_workers1"], 2
        )
    notes = (
        f"Env steps: random actions, {steps} timed steps after 5 warm-up steps, one process pinned to "
        f"{'core ' + str(core) if core is not None else 'no particular core'}; steps_per_cpu_s divides by the "
        "process's CPU time (render threads included), which other load on the machine barely moves. Generation: scripted expert, "
        f"{episodes} episodes, RGB+depth+seg written to a zarr store, all cores. Ratios within one run "
        "compare; absolute times on a shared CPU are noisy."
    )
    return BenchResult(name="envs", figures=figures, rows=rows, notes=notes)
