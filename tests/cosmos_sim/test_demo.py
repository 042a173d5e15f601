"""The demo (the README's main command) on a small config: every promised file, sensible figures, and
side-by-side videos that really show the ground truth beside the model's own prediction."""

import gymnasium as gym
import imageio.v3 as iio3
import numpy as np

from cosmos_sim.demo import DemoConfig, run_demo
from cosmos_sim.eval.predictors import Episode, make_predictor
from cosmos_sim.eval.rollouts import gt_episode, gt_rollouts


def _panels(path, scale=3, size=64, gap=8):
    """A decoded GT | prediction | error video -> three (T, 64, 64, 3) uint8 stacks (one pixel per cell)."""
    video = iio3.imread(path)[..., :3]
    step = (size + gap) * scale
    return [video[:, ::scale, i * step : i * step + size * scale : scale] for i in range(3)]


def _psnr(a, b):
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return 10 * np.log10(255**2 / max(mse, 1e-10))


def _check_side_by_side(path, truth, pred):
    left, middle, err = _panels(path)
    assert left.shape == truth.shape and middle.shape == pred.shape
    assert _psnr(left, truth) > 30, "left panel is not the ground truth"
    assert _psnr(middle, pred) > 30, "middle panel is not the model's prediction"
    assert _psnr(middle, truth) < _psnr(middle, pred) - 3, (
        "middle panel looks like the ground truth, not the model"
    )
    expected_err = np.clip(np.abs(truth.astype(int) - pred.astype(int)).max(-1) * 3, 0, 255)
    assert np.abs(err[..., 0].astype(int) - expected_err).mean() < 8


def test_demo_writes_every_file_and_the_world_models_beat_copy_last(tmp_path):
    cfg = DemoConfig(out=str(tmp_path), episodes=1, workers=1, driving_steps=5, wfm_steps=8)
    res = run_demo(cfg)
    for name in (
        "manipulation.zarr",
        "driving.zarr",
        "manipulation_episodes.png",
        "manipulation_maps.png",
        "manipulation_cloud.png",
        "driving.png",
        "physics.png",
        "manipulation_ep0.mp4",
        "driving_ep0.mp4",
        "physics.gif",
        "wfm_vs_gt.mp4",
        "wfm_vs_gt.gif",
        "wfm_psnr.png",
        "physics_wfm_vs_gt.gif",
        "transfer.gif",
    ):
        assert (tmp_path / name).exists(), name
    assert res["manipulation"]["episodes"] == 1 and len(res["physics_frames"]) >= 8
    from cosmos_sim.data.pointcloud import read_ply

    cloud = read_ply(tmp_path / "manipulation_cloud.ply")  # the fused scene: the table top is there
    assert len(cloud) > 1000 and np.isclose(np.median(cloud.points[:, 2]), 0.4, atol=0.02)
    # Held-out seed, shipped checkpoints: both models predict better than holding the last frame.
    assert res["wfm"]["psnr_mean"] > res["wfm"]["copy_psnr_mean"]
    assert res["physics_wfm"]["psnr_mean"] > res["physics_wfm"]["copy_psnr_mean"]

    # What the side-by-side videos show, decoded: GT | the shipped model's own rollout | error.
    gt = gt_rollouts("expert", [cfg.wfm_seed], steps=cfg.wfm_steps)
    env = gym.make("cosmos_sim/Manipulation-WFM-v0")
    env.reset(seed=cfg.wfm_seed)
    pred = np.stack([env.step(a)[0] for a in gt["actions"][0]])
    _check_side_by_side(tmp_path / "wfm_vs_gt.gif", gt["frames"][0, 1:], pred)

    context = 9
    episode = gt_episode(cfg.physics_scenario, cfg.wfm_seed, context + cfg.wfm_steps)
    pred = make_predictor(cfg.physics_model).predict(
        Episode(episode.frames[:context]), cfg.wfm_steps, seed=cfg.wfm_seed
    )
    _check_side_by_side(tmp_path / "physics_wfm_vs_gt.gif", episode.frames[context:], pred)

    # Transfer: GT | night | grass, the last two the shipped model's renders of episode 0's maps.
    from cosmos_sim.data.store import TrajectoryStore
    from cosmos_sim.guardrail.provenance import read_metadata
    from cosmos_sim.world_models.transfer import Transfer

    ep = TrajectoryStore.open(tmp_path / "manipulation.zarr").episode(0)
    controls = {"depth": ep["maps/front/depth"], "seg": ep["maps/front/seg"], "edge": ep["maps/front/edges"]}
    model = Transfer.from_pretrained("manip-transfer-nano", device="cpu")
    video = iio3.imread(tmp_path / "transfer.gif")[..., :3][:, ::3, ::3]
    panels = [video[:, :, i * 64 : (i + 1) * 64] for i in range(3)]
    assert _psnr(panels[0], ep["rgb"]) > 30, "left panel is not the ground truth"
    for panel, look in zip(panels[1:], ("night", "grass"), strict=True):
        render = model.transfer(controls, seed=cfg.wfm_seed, domain=look)
        assert _psnr(panel, render) > 30 and _psnr(panel, ep["rgb"]) < _psnr(panel, render) - 3, look
    meta = read_metadata(tmp_path / "transfer.gif")
    assert meta["model"].endswith("manip-transfer-nano") and "watermark" in meta["guardrail_fired"]
