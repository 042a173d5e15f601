"""Open-loop evaluation helpers: object IoU and centroid error of predicted frames against known geometry."""

import numpy as np
import pytest
import torch

from cosmos_sim.eval.rollouts import object_rollout_metrics, open_loop, teacher_forced
from cosmos_sim.world_models.wfm import tiny_world_model

LABELS = {0: "background", 1: "robot", 2: "table", 4: "red_block"}


def _frame(left: int, top: int = 20):
    """A 10x10 red block on a brown table, the robot's grey arm in a corner: (frame, seg)."""
    f = np.zeros((64, 64, 3), np.uint8)
    f[:] = (160, 120, 90)
    seg = np.full((64, 64), 2, np.int32)
    f[:8, :8], seg[:8, :8] = (120, 120, 120), 1
    f[top : top + 10, left : left + 10], seg[top : top + 10, left : left + 10] = (200, 20, 20), 4
    return f, seg


def test_object_iou_and_centroid_of_a_shifted_and_a_vanished_block():
    truth = [_frame(20 + t) for t in range(3)]  # the block moves 1 px a step
    frames = np.stack([f for f, _ in truth])[None]
    segs = np.stack([s for _, s in truth])[None]
    shifted = np.stack([_frame(20 + t + 2)[0] for t in (1, 2)])[None]  # always 2 px ahead
    m = object_rollout_metrics(shifted, frames, segs, [LABELS])
    assert m["object_iou"].shape == (1, 2)
    assert np.allclose(m["object_iou"], 80 / 120)  # 10x8 overlap of two 10x10 squares
    assert np.allclose(m["centroid_px"], 2.0)
    exact = object_rollout_metrics(frames[:, 1:], frames, segs, [LABELS])
    assert np.allclose(exact["object_iou"], 1.0) and np.allclose(exact["centroid_px"], 0.0)
    gone = np.stack([np.full((64, 64, 3), (160, 120, 90), np.uint8)] * 2)[None]  # the block dissolved
    m = object_rollout_metrics(gone, frames, segs, [LABELS])
    assert np.allclose(m["object_iou"], 0.0) and np.isnan(m["centroid_px"]).all()


def test_the_robot_and_scenery_are_not_scored_unless_asked():
    f, s = _frame(20)
    frames, segs = np.stack([f, f])[None], np.stack([s, s])[None]
    m = object_rollout_metrics(frames[:, 1:], frames, segs, [LABELS], objects=("robot",))
    assert m["object_iou"][0, 0] == pytest.approx(1.0, abs=0.05)  # asked for: the grey arm on its own


def test_teacher_forced_steps_start_from_the_recorded_frames_with_open_loops_noise():
    wm = tiny_world_model("diffusion", context_frames=2).eval()
    for p in wm.dynamics.parameters():  # break the zero init so context, action and noise all matter
        torch.nn.init.normal_(p, std=0.05)
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (2, 4, 64, 64, 3), dtype=np.uint8)
    actions = rng.uniform(-1, 1, (2, 3, 7)).astype(np.float32)
    tf = teacher_forced(wm, frames, actions, seed=5)
    ol = open_loop(wm, frames[:, 0], actions, seed=5)
    assert tf.shape == ol.shape == (2, 3, 64, 64, 3)
    assert np.array_equal(tf[:, 0], ol[:, 0])  # step 1: the same context (frame 0 repeated), the same noise
    assert not np.array_equal(tf[:, 2], ol[:, 2])  # later steps: recorded frames instead of predictions
    # Step 3 by hand: the recorded frames 1 and 2 as context, open_loop's third noise draw.
    z = wm.encode(torch.from_numpy(frames[:, 1:3]))
    gens = [torch.Generator().manual_seed(5 + i) for i in range(2)]
    noise = [wm.noise(gens) for _ in range(3)][2]
    _, nxt = wm.predict_next(wm.start(z), actions[:, 2], noise=noise)
    assert np.array_equal(tf[:, 2], wm.decode(nxt))
