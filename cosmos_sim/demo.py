"""The README's demo: run the GT scenes, record a short dataset, and show what was recorded.

The ground-truth half of the SDK: the scripted expert in the MuJoCo manipulation scene (RGB +
depth + segmentation + edges recorded into a zarr store), the PyBullet driving scene with its six
cameras, and every physics scenario; then the point of the SDK: the shipped world-model env
(``cosmos_sim/Manipulation-WFM-v0``) and the GT scene run side by side from the same seed under
the scripted expert (GT | WFM | error video, per-step PSNR plot). It writes pictures and videos a
person can look at and ends with a one-screen summary.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import gymnasium as gym
import numpy as np

import cosmos_sim  # noqa: F401  (registers the ids)
from cosmos_sim.data.export import contact_sheet, episode_frames, export_episode, tile
from cosmos_sim.data.generate import GenerateConfig, generate
from cosmos_sim.data.store import TrajectoryStore, is_store
from cosmos_sim.envs import PHYSICS_SCENARIOS

MANIPULATION_ID = "cosmos_sim/Manipulation-GT-v0"
DRIVING_ID = "cosmos_sim/Driving-GT-v0"


@dataclass(frozen=True)
class DemoConfig:
    """What the demo records and where."""

    out: str = "out/demo"
    """Output directory (its demo stores are rewritten on every run)."""
    episodes: int = 4
    """Manipulation episodes recorded with the scripted expert."""
    workers: int = 2
    """Worker processes for recording."""
    size: int = 64
    """Image side in pixels."""
    driving_steps: int = 40
    """Length of the recorded driving episode."""
    frames_per_row: int = 8
    """Frames shown per row in the pictures."""
    wfm_steps: int = 24
    """Steps of the world model beside the GT scene (0 skips that part)."""
    wfm_seed: int = 100000
    """Seed of the world-model comparison (held out: the shipped model never trained on it)."""
    physics_scenario: str = "Collision"
    """Physics scenario the shipped physics world model predicts beside the simulator."""
    physics_model: str = "physics-dit16-nano"
    """Physics world model beside the simulator (shipped name or bundle directory; the 16x16 one keeps the
    objects best: ``benchmarks/physics16/physics.md``)."""
    guardrail: bool = True
    """Pixelate faces in and watermark the world models' videos (--no-guardrail: off, said in their metadata)."""


def _label(img: np.ndarray, text: str, width: int = 120) -> np.ndarray:
    """Prefix an image row with a white label cell."""
    cell = np.full((img.shape[0], width, 3), 255, np.uint8)
    cv2.putText(
        cell, text, (4, img.shape[0] // 2 + 4), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1, cv2.LINE_AA
    )
    return np.concatenate([cell, img], axis=1)


def _fresh(path: Path) -> None:
    """Remove a previous demo store (only if it is one: never delete a user's other files)."""
    if path.exists():
        if not is_store(path):
            raise ValueError(f"{path} exists and is not a trajectory store; choose another --out")
        shutil.rmtree(path)


def _manipulation_maps_picture(store_path: Path, out_png: Path, n: int) -> None:
    store = TrajectoryStore.open(store_path)
    length = int(store.episode_lengths[0])
    idx = np.linspace(0, length - 1, n).round().astype(int)
    rows = []
    for key, title in (
        ("rgb", "rgb"),
        ("maps/front/depth", "depth (m)"),
        ("maps/front/seg", "segmentation"),
        ("maps/front/edges", "canny edges"),
    ):
        cells = episode_frames(store, 0, key, rows=idx).repeat(2, axis=1).repeat(2, axis=2)
        rows.append(_label(tile([c[None] for c in cells], ncols=n)[0], title))
    cv2.imwrite(str(out_png), cv2.cvtColor(tile([r[None] for r in rows], ncols=1)[0], cv2.COLOR_RGB2BGR))


def _manipulation_cloud(store_path: Path, out: Path) -> None:
    """The first frame's two cameras fused into one world-frame point cloud, coloured by segmentation: PLY
    and a picture."""
    import imageio.v3 as iio3

    from cosmos_sim.data.pointcloud import cloud_picture, export_pointcloud

    _, cloud = export_pointcloud(
        out / "manipulation_cloud.ply", store_path, episode=0, row=0, colour="seg", max_depth=1.6
    )
    picture = cloud_picture({"front + top cameras fused (segmentation colours)": cloud}, colour="seg")
    iio3.imwrite(out / "manipulation_cloud.png", picture)


def _transfer(cfg: DemoConfig, store_path: Path, out: Path) -> dict:
    """The shipped Transfer model renders episode 0's control maps (depth, seg, edges) in two other looks:
    GT | night | grass, one guarded GIF."""
    from cosmos_sim.assets import ASSETS_DIR
    from cosmos_sim.guardrail import SafetyChecker, provenance, write_guarded_video
    from cosmos_sim.world_models.transfer import Transfer

    store = TrajectoryStore.open(store_path)
    ep = store.episode(0, ["rgb", "maps/front/depth", "maps/front/seg", "maps/front/edges"])
    controls = {"depth": ep["maps/front/depth"], "seg": ep["maps/front/seg"], "edge": ep["maps/front/edges"]}
    model = Transfer.from_pretrained("manip-transfer-nano", device="cpu")
    t0 = time.perf_counter()
    looks = ("night", "grass")
    renders = [model.transfer(controls, seed=cfg.wfm_seed, domain=d) for d in looks]
    fps = len(looks) * len(ep["rgb"]) / (time.perf_counter() - t0)
    panels = np.concatenate([ep["rgb"], *renders], axis=2).repeat(3, axis=1).repeat(3, axis=2)
    meta = provenance(
        ASSETS_DIR / "transfer" / "manip-transfer-nano", prompt=None, seed=cfg.wfm_seed, looks=looks
    )
    guard = SafetyChecker() if cfg.guardrail else None
    write_guarded_video(out / "transfer.gif", panels, 10, meta, guard)
    return {"frames": len(ep["rgb"]), "fps": fps, "looks": looks}


def _physics(cfg: DemoConfig, out: Path) -> dict[str, int]:
    """One seeded video per physics scenario: a labelled contact sheet PNG and a 2x4 GIF."""
    import imageio.v3 as iio3

    videos, rows = [], []
    for suffix in PHYSICS_SCENARIOS:
        env = gym.make(f"cosmos_sim/Physics-{suffix}-GT-v0", width=cfg.size, height=cfg.size)
        obs, _ = env.reset(seed=0)
        frames = [obs]
        done = False
        while not done:
            obs, _, term, trunc, _ = env.step(np.zeros(env.action_space.shape, np.float32))
            frames.append(obs)
            done = term or trunc
        env.close()
        video = np.stack(frames)
        videos.append(video)
        idx = np.linspace(0, len(video) - 1, cfg.frames_per_row).round().astype(int)
        cells = video[idx].repeat(2, axis=1).repeat(2, axis=2)
        rows.append(_label(tile([c[None] for c in cells], ncols=len(cells))[0], suffix))
    cv2.imwrite(
        str(out / "physics.png"), cv2.cvtColor(tile([r[None] for r in rows], ncols=1)[0], cv2.COLOR_RGB2BGR)
    )
    t = min(len(v) for v in videos)
    grid = tile([v[:t].repeat(2, axis=1).repeat(2, axis=2) for v in videos], ncols=4)
    iio3.imwrite(out / "physics.gif", grid, extension=".gif", duration=1000 / 15, loop=0)
    return {suffix: len(v) for suffix, v in zip(PHYSICS_SCENARIOS, videos, strict=True)}


def _chw(frames: np.ndarray) -> np.ndarray:
    """uint8 (T, H, W, 3) -> float32 (T, 3, H, W) in [0, 1], what cosmos_sim.eval.metrics takes."""
    return frames.transpose(0, 3, 1, 2).astype(np.float32) / 255


def _world_model(cfg: DemoConfig, out: Path) -> dict:
    """The shipped WFM env beside the GT scene: same seed, the expert's actions, paired mode."""
    from cosmos_sim.data.pictures import psnr_plot, side_by_side
    from cosmos_sim.envs.wfm_env import resolve_checkpoint
    from cosmos_sim.eval.metrics import psnr
    from cosmos_sim.eval.rollouts import gt_rollouts
    from cosmos_sim.guardrail import SafetyChecker, provenance, write_guarded_video

    gt = gt_rollouts("expert", [cfg.wfm_seed], steps=cfg.wfm_steps)
    env = gym.make("cosmos_sim/Manipulation-WFM-v0", paired=True)
    obs, _ = env.reset(seed=cfg.wfm_seed)
    pred, gt_frames, rewards = [], [], []
    t0 = time.perf_counter()
    for a in gt["actions"][0]:
        obs, r, _, _, info = env.step(a)  # the model keeps going past a predicted success, for the comparison
        pred.append(obs)
        gt_frames.append(info["gt_frame"])
        rewards.append((r, info["gt_reward"]))
    ms = 1000 * (time.perf_counter() - t0) / cfg.wfm_steps
    env.close()
    pred, gt_frames = np.stack(pred), np.stack(gt_frames)
    model_psnr = psnr(_chw(pred), _chw(gt_frames))
    copy_psnr = psnr(_chw(np.repeat(gt["frames"][0, :1], len(gt_frames), 0)), _chw(gt_frames))
    video = side_by_side(gt_frames, pred, scale=3)
    meta = provenance(resolve_checkpoint(None), prompt=None, seed=cfg.wfm_seed, actions="scripted expert")
    guard = SafetyChecker() if cfg.guardrail else None
    write_guarded_video([out / "wfm_vs_gt.mp4", out / "wfm_vs_gt.gif"], video, 10, meta, guard)
    psnr_plot(
        {"world model": model_psnr, "copy last frame": copy_psnr},
        out / "wfm_psnr.png",
        f"WFM vs GT, seed {cfg.wfm_seed}, scripted expert",
    )
    r = np.array(rewards)
    return {
        "psnr_mean": float(model_psnr.mean()),
        "copy_psnr_mean": float(copy_psnr.mean()),
        "ms_per_step": ms,
        "reward_mae": float(np.abs(r[:, 0] - r[:, 1]).mean()),
    }


def _physics_model(cfg: DemoConfig, out: Path) -> dict:
    """The shipped physics world model continues 9 GT frames of a held-out episode, beside the simulator."""
    from cosmos_sim.data.pictures import side_by_side
    from cosmos_sim.envs.wfm_env import resolve_checkpoint
    from cosmos_sim.eval.metrics import psnr
    from cosmos_sim.eval.predictors import Episode, make_predictor
    from cosmos_sim.eval.rollouts import gt_episode
    from cosmos_sim.guardrail import SafetyChecker, provenance, write_guarded_video

    context, horizon = 9, cfg.wfm_steps
    gt = gt_episode(cfg.physics_scenario, cfg.wfm_seed, context + horizon)
    pred = make_predictor(cfg.physics_model).predict(Episode(gt.frames[:context]), horizon, seed=cfg.wfm_seed)
    truth = gt.frames[context:]
    meta = provenance(resolve_checkpoint(cfg.physics_model), prompt=None, seed=cfg.wfm_seed)
    guard = SafetyChecker() if cfg.guardrail else None
    write_guarded_video(out / "physics_wfm_vs_gt.gif", side_by_side(truth, pred, scale=3), 10, meta, guard)
    return {
        "psnr_mean": float(psnr(_chw(pred), _chw(truth)).mean()),
        "copy_psnr_mean": float(
            psnr(_chw(np.repeat(gt.frames[context - 1 : context], horizon, 0)), _chw(truth)).mean()
        ),
    }


def run_demo(cfg: DemoConfig | None = None) -> dict:
    """Run the demo and return its summary (also printed as a table)."""
    from rich.console import Console
    from rich.table import Table

    cfg = cfg or DemoConfig()
    if cfg.episodes < 1:
        raise ValueError(f"episodes must be at least 1, got {cfg.episodes}")
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    console = Console()

    parts = 4 if cfg.wfm_steps else 3
    console.rule(f"[bold]1/{parts} manipulation (MuJoCo): scripted expert, RGB + depth + seg + edges")
    manip = out / "manipulation.zarr"
    _fresh(manip)
    m = generate(
        GenerateConfig(
            env_id=MANIPULATION_ID,
            episodes=cfg.episodes,
            out=str(manip),
            policy="expert",
            workers=cfg.workers,
            resolution=(cfg.size, cfg.size),
            maps=("depth", "seg", "edges"),
        )
    )
    contact_sheet(manip, out / "manipulation_episodes.png", frames=cfg.frames_per_row, scale=2)
    _manipulation_maps_picture(manip, out / "manipulation_maps.png", cfg.frames_per_row)
    export_episode(manip, 0, out / "manipulation_ep0.mp4")
    _manipulation_cloud(manip, out)

    console.rule(f"[bold]2/{parts} driving (PyBullet): six cameras, lane-keeping expert")
    drive = out / "driving.zarr"
    _fresh(drive)
    d = generate(
        GenerateConfig(
            env_id=DRIVING_ID,
            episodes=1,
            out=str(drive),
            policy="expert",
            workers=1,
            resolution=(cfg.size, cfg.size),
            max_steps=cfg.driving_steps,
        )
    )
    contact_sheet(drive, out / "driving.png", frames=4, scale=2)
    export_episode(drive, 0, out / "driving_ep0.mp4")

    console.rule(f"[bold]3/{parts} physics scenarios (MuJoCo): one seeded video each")
    p = _physics(cfg, out)

    w = pw = tr = None
    if cfg.wfm_steps:
        console.rule("[bold]4/4 world models beside the GT scenes (manipulation, physics) and Transfer")
        if not cfg.guardrail:
            console.print("[yellow]guardrail disabled (--no-guardrail): no face pixelation, no watermark")
        w = _world_model(cfg, out)
        pw = _physics_model(cfg, out)
        tr = _transfer(cfg, manip, out)

    seconds = time.perf_counter() - t0
    table = Table(title=f"cosmos-sim demo: {out} ({seconds:.0f} s)", show_header=True)
    for col in ("scene", "recorded", "result", "files"):
        table.add_column(col)
    sr = "n/a" if m["success_rate"] is None else f"{100 * m['success_rate']:.0f} %"
    table.add_row(
        "Manipulation-GT (MuJoCo)",
        f"{m['episodes']} episodes, {m['frames']} frames",
        f"expert success {sr}, {m['bytes_per_frame'] / 1024:.1f} KiB/frame",
        "manipulation.zarr, manipulation_episodes.png, manipulation_maps.png, manipulation_ep0.mp4, "
        "manipulation_cloud.png/.ply",
    )
    table.add_row(
        "Driving-GT (PyBullet)",
        f"1 episode, {d['frames']} frames x 6 cameras",
        f"return {d['mean_return']:.1f}",
        "driving.zarr, driving.png, driving_ep0.mp4",
    )
    table.add_row(
        "Physics-*-GT (MuJoCo)",
        f"{len(p)} scenarios, {sum(p.values())} frames",
        "",
        "physics.png, physics.gif",
    )
    if w is not None:
        table.add_row(
            "Manipulation-WFM (shipped renderer of state)",
            f"{cfg.wfm_steps} steps beside GT, seed {cfg.wfm_seed}",
            f"PSNR {w['psnr_mean']:.1f} dB (copy-last {w['copy_psnr_mean']:.1f}), {w['ms_per_step']:.0f} ms/step, "
            f"reward error {w['reward_mae']:.3f}",
            "wfm_vs_gt.mp4, wfm_vs_gt.gif, wfm_psnr.png",
        )
        table.add_row(
            f"{cfg.physics_model} (shipped physics WFM)",
            f"{cfg.physics_scenario}, 9 GT frames -> {cfg.wfm_steps} predicted, seed {cfg.wfm_seed}",
            f"PSNR {pw['psnr_mean']:.1f} dB (copy-last {pw['copy_psnr_mean']:.1f})",
            "physics_wfm_vs_gt.gif",
        )
        table.add_row(
            "manip-transfer-nano (shipped Transfer)",
            f"episode 0's depth + seg + edges, {tr['frames']} frames",
            f"rendered in {' and '.join(tr['looks'])} at {tr['fps']:.0f} frames/s",
            "transfer.gif (GT | night | grass)",
        )
    console.print(table)
    console.print(
        "Next: `cosmos-sim export STORE --episode I --out x.gif`, or read the store with "
        "cosmos_sim.data.store.TrajectoryStore / cosmos_sim.data.dataset.TrajectoryWindowDataset."
    )
    return {
        "manipulation": m,
        "driving": d,
        "physics_frames": p,
        "wfm": w,
        "physics_wfm": pw,
        "transfer": tr,
        "seconds": seconds,
        "out": str(out),
        "guardrail": cfg.guardrail,
    }


__all__ = ["DemoConfig", "run_demo"]
