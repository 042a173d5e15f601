"""Reconstruction of a predicted CameraOrbit video (issue 22's world-model row): the context frames are neither
fused nor part of the true surface, a predictor's frames come from that context, and a video frozen on its
last context frame reconstructs worse than the GT frames."""

import numpy as np
import pytest

from cosmos_sim.eval.predictors import CopyLast
from cosmos_sim.eval.reconstruction import (
    ReconstructionConfig,
    capture_orbit,
    object_fscore,
    predicted_orbit,
    reconstruct_orbit,
)

CFG = ReconstructionConfig()
FRAMES, CONTEXT = 17, 5


@pytest.fixture(scope="module")
def captures():
    return capture_orbit(100_001, FRAMES, 64, CFG), capture_orbit(100_001, FRAMES, 64, CFG, first=CONTEXT)


def test_the_context_is_left_out_of_the_surface_and_the_fusion(captures):
    full, tail = captures
    assert tail.first == CONTEXT and np.array_equal(tail.frames, full.frames)
    assert 0 < len(tail.surface) < len(full.surface)  # fewer poses see less of the scene
    as_set = {tuple(p) for p in np.round(full.surface.points, 6)}
    assert all(tuple(p) in as_set for p in np.round(tail.surface.points[::97], 6))  # a subset of it
    good = reconstruct_orbit(tail, config=CFG).figures  # GT frames first.., GT depth
    assert good["fscore"] > 0.7  # 12 frames at 64x64 (49 frames: 0.93, benchmarks/pointcloud.md)
    with pytest.raises(ValueError, match=r"the capture's \(12, 64, 64, 3\) \(frames 5\.\.\)"):
        reconstruct_orbit(tail, frames=full.frames, depth_fn=lambda f: full.depths, config=CFG)
    with pytest.raises(ValueError, match=r"first=17 must be in \[0, frames=17\)"):
        capture_orbit(100_001, FRAMES, 64, CFG, first=FRAMES)


def test_a_frozen_video_reconstructs_worse_than_the_gt_frames(captures):
    _, tail = captures
    video = predicted_orbit(CopyLast(), tail)
    assert video.shape == (FRAMES - CONTEXT, 64, 64, 3) and np.array_equal(video[0], tail.frames[CONTEXT - 1])
    frozen_depth = np.repeat(tail.depths[CONTEXT - 1 : CONTEXT], FRAMES - CONTEXT, axis=0)  # what it shows
    frozen_res = reconstruct_orbit(tail, frames=video, depth_fn=lambda f: frozen_depth, config=CFG)
    good_res = reconstruct_orbit(tail, config=CFG)
    frozen, good = frozen_res.figures, good_res.figures
    # the floor, turned about the orbit's vertical axis, stays the floor: F moves little (0.77 -> 0.67 here);
    # the objects smear, which accuracy and precision show
    assert frozen["accuracy_m"] > 3 * good["accuracy_m"] and frozen["precision"] < good["precision"] - 0.1
    assert frozen["fscore"] < good["fscore"]
    # on the objects alone the frozen view fails outright
    assert object_fscore(good_res, tail.labels) > 0.6 > 0.3 > object_fscore(frozen_res, tail.labels)
    with pytest.raises(ValueError, match="no context frames"):
        predicted_orbit(CopyLast(), captures[0])
