"""Pieces of `cosmos-sim bench wfm`: GT rollouts for open-loop replay, the side-by-side picture, the plot."""

import numpy as np

from cosmos_sim.bench.wfm import block_goal_distance, block_in_goal, gt_rollouts, psnr_plot, side_by_side


def test_gt_rollouts_replay_deterministically_and_expert_moves_the_scene():
    a = gt_rollouts("expert", [100000, 100001], steps=5)
    b = gt_rollouts("expert", [100000, 100001], steps=5)
    assert a["frames"].shape == (2, 6, 64, 64, 3) and a["actions"].shape == (2, 5, 7)
    assert a["reward"].shape == a["success"].shape == (2, 5)
    assert np.array_equal(a["frames"], b["frames"]) and np.array_equal(a["actions"], b["actions"])
    assert not np.array_equal(a["frames"][0, 0], a["frames"][0, -1])  # the arm moved
    r = gt_rollouts("random", [100000], steps=3)
    assert np.abs(r["actions"]).max() <= 1 and not np.allclose(r["actions"][0, 0], r["actions"][0, 1])


def test_block_read_off_gt_frames_lies_where_the_scene_has_it():
    g = gt_rollouts("expert", [100000, 100001, 100002], steps=25, segs=True)
    assert g["block_xy"].shape == (3, 26, 2) and g["intrinsics"].shape == (3, 3, 3)
    moved = np.linalg.norm(g["block_xy"][:, -1] - g["block_xy"][:, 0], axis=1)
    xy, dist = block_goal_distance(g["frames"][:, -1], g)
    err = np.linalg.norm(xy - g["block_xy"][:, -1], axis=1)
    assert moved.max() > 0.03 and err.max() < 0.015, (moved, err)  # the pushed block, found within 1.5 cm
    assert np.array_equal(block_in_goal(g["frames"][:, -1], g, 1.0), [True] * 3)
    assert np.array_equal(block_in_goal(g["frames"][:, -1], g, 0.0), [False] * 3)
    blank = np.zeros_like(g["frames"][:, -1])  # no block in the picture: not in the goal
    assert np.isnan(block_goal_distance(blank, g)[1]).all() and not block_in_goal(blank, g, 1.0).any()


def test_side_by_side_shows_gt_prediction_and_amplified_error():
    gt = np.zeros((3, 64, 64, 3), np.uint8)
    pred = gt.copy()
    pred[:, 10, 20] = 50  # one wrong pixel
    v = side_by_side(gt, pred, scale=2)
    assert v.shape == (3, 128, 2 * (3 * 64 + 16), 3) and v.shape[2] % 16 == 0
    err = v[:, :, 2 * (2 * 64 + 16) :]  # the third panel
    assert err.max() == 150 and (err > 0).sum() == 3 * 4 * 3  # |50| x 3, one pixel -> 2x2 cells x 3 channels


def test_psnr_plot_writes_a_png(tmp_path):
    psnr_plot({"model": np.linspace(30, 20, 16), "copy": np.full(16, 19.0)}, tmp_path / "p.png", "t")
    assert (tmp_path / "p.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
