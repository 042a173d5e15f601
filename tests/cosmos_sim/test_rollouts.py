"""Open-loop evaluation helpers: object IoU and centroid error of predicted frames against known geometry."""

import numpy as np
import pytest

from cosmos_sim.eval.rollouts import object_rollout_metrics

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
