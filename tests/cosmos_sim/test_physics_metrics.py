"""Physics-alignment metrics: masks, colour segmentation, centroids in pixels and metres, Physics-IQ, features."""

import numpy as np
import pytest

from cosmos_sim.bench.physics import DEFAULT_SCENARIOS, gt_episode
from cosmos_sim.envs.base import project
from cosmos_sim.eval import physics_metrics as pm

SKY, FLOOR, RED, BLUE = (229, 234, 242), (134, 134, 130), (215, 45, 40), (40, 100, 230)
K = np.array([[50.0, 0, 32], [0, 50.0, 32], [0, 0, 1]])


def _square(h=64, w=64, top=20, left=20, size=10):
    m = np.zeros((h, w), bool)
    m[top : top + size, left : left + size] = True
    return m


def _scene(squares: dict[int, tuple[int, int]], colours: dict[int, tuple]) -> tuple[np.ndarray, np.ndarray]:
    """A flat-coloured frame (sky top half, floor bottom half) with 10x10 squares: (frame, seg)."""
    frame = np.zeros((64, 64, 3), np.uint8)
    frame[:32], frame[32:] = SKY, FLOOR
    seg = np.zeros((64, 64), np.int32)
    seg[32:] = 9  # floor
    for sid, (top, left) in squares.items():
        m = _square(top=top, left=left)
        frame[m], seg[m] = colours[sid], sid
    return frame, seg


def test_iou_of_a_mask_with_itself_and_a_shifted_copy():
    a = _square()
    assert pm.mask_iou(a, a) == 1.0
    assert pm.mask_iou(a, np.roll(a, 3, axis=1)) == pytest.approx(70 / 130)  # 10x7 overlap of two 10x10
    assert pm.mask_iou(a, np.roll(a, 20, axis=0)) == 0.0
    assert np.isnan(pm.mask_iou(np.zeros_like(a), np.zeros_like(a)))
    assert pm.mask_iou(np.zeros_like(a), np.zeros_like(a), empty=1.0) == 1.0


def test_centroid_and_backprojection_agree_with_projection():
    assert np.allclose(pm.centroid(_square(top=20, left=30)), [34.5, 24.5])  # (u, v) = (column, row)
    assert pm.centroid(np.zeros((4, 4), bool)) is None
    rng = np.random.default_rng(0)
    rot, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    e = np.eye(4)
    e[:3, :3], e[:3, 3] = rot * np.sign(np.linalg.det(rot)), [0.3, -0.2, 4.0]
    world = np.array([0.4, -0.1, 0.7])
    u, v, z = project(world, K, e)[0]
    assert np.allclose(pm.backproject(np.array([u, v]), z, K, e), world)
    assert np.allclose(pm.on_plane(np.array([u, v]), world[2], K, e), world)  # the ray met with z = 0.7
    assert not np.allclose(pm.on_plane(np.array([u, v]), 0.0, K, e), world)


def test_colour_segmentation_of_flat_colours_is_exact_and_centroid_errors_are_known():
    gt, seg = _scene({1: (10, 10), 2: (40, 40)}, {1: RED, 2: BLUE})
    labels = {0: "background", 1: "ball", 2: "block", 9: "floor"}
    ref = pm.colour_reference(gt[None], seg[None], labels, ["ball", "block"])
    assert [c.name for c in ref.classes] == ["ball", "block"] and len(ref.background) == 2
    assert np.array_equal(pm.segment_by_colour(gt, ref), np.where(seg == 9, 0, seg))
    depth = np.full((1, 64, 64), 2.0, np.float32)
    same = pm.object_metrics(gt[None], seg[None], depth, K, np.eye(4), ref)
    assert same.iou["ball"][0] == 1.0 and same.iou["block"][0] == 1.0
    assert same.centroid_px["ball"][0] == 0.0 and same.centroid_m["block"][0] == 0.0
    pred, _ = _scene({1: (10, 13), 2: (40, 40)}, {1: RED, 2: BLUE})  # the ball 3 px to the right
    m = pm.object_metrics(pred[None], seg[None], depth, K, np.eye(4), ref)
    assert m.iou["ball"][0] == pytest.approx(70 / 130) and m.iou["block"][0] == 1.0
    assert m.centroid_px["ball"][0] == pytest.approx(3.0)
    assert m.centroid_m["ball"][0] == pytest.approx(3.0 * 2.0 / 50.0)  # 3 px at 2 m with f = 50 px
    gone, _ = _scene({2: (40, 40)}, {2: BLUE})  # a prediction that lost the ball
    m = pm.object_metrics(gone[None], seg[None], depth, K, np.eye(4), ref)
    assert m.iou["ball"][0] == 0.0 and np.isnan(m.centroid_px["ball"][0])


def test_objects_of_one_colour_form_one_class():
    gt, seg = _scene({1: (10, 10), 2: (40, 40)}, {1: RED, 2: RED})
    ref = pm.colour_reference(gt[None], seg[None], {1: "a", 2: "b", 9: "floor"}, ["a", "b"])
    assert [c.name for c in ref.classes] == ["a+b"] and ref.class_of("b") == 0
    pred, _ = _scene({1: (10, 10)}, {1: RED})  # only one red square predicted: half of the class
    m = pm.object_metrics(pred[None], seg[None], np.ones((1, 64, 64)), K, np.eye(4), ref)
    assert m.iou["a"][0] == m.iou["b"][0] == pytest.approx(0.5)
    with pytest.raises(ValueError, match="not in the segmentation labels"):
        pm.colour_reference(gt[None], seg[None], {1: "a"}, ["zzz"])


@pytest.mark.parametrize("scenario", DEFAULT_SCENARIOS)
def test_colour_segmentation_recovers_gt_masks_in_every_scenario(scenario):
    gt = gt_episode(scenario, 100000, 13)
    ref = pm.colour_reference(gt.frames[:9], gt.segs[:9], gt.labels, gt.objects)
    assert {m for c in ref.classes for m in c.members} == set(gt.objects)
    m = pm.object_metrics(
        gt.frames[9:], gt.segs[9:], gt.depths[9:], gt.intrinsics[9:], gt.extrinsics[9:], ref
    )
    iou = np.nanmean(np.stack(list(m.iou.values())))
    assert iou > 0.8, f"{scenario}: colour segmentation of GT frames has IoU {iou:.3f}"
    assert np.nanmean(np.stack(list(m.centroid_m.values()))) < 0.05  # metres


def test_motion_masks_and_physics_iq_ious():
    def frame(left):
        f = np.zeros((32, 32, 3), np.uint8)
        f[10:20, left : left + 10] = 200
        return f

    moving = np.stack([frame(5 + 2 * t) for t in range(1, 5)])
    masks = pm.motion_masks(moving, previous=frame(5))
    assert masks.shape == (4, 32, 32) and masks[0].sum() == 2 * 10 * 2  # 2 columns uncovered + 2 covered
    assert masks[0, 10, 5] and masks[0, 10, 15] and not masks[0, 10, 10]
    assert not pm.motion_masks(moving)[0].any()  # no previous frame: the first mask is empty
    still = np.repeat(frame(5)[None], 4, axis=0)
    same = pm.physics_iq_metrics(moving, moving, frame(5))
    assert same["spatial_iou"] == same["spatiotemporal_iou"] == same["weighted_spatial_iou"] == 1.0
    assert same["mse"] == 0.0
    frozen = pm.physics_iq_metrics(still, moving, frame(5))
    assert frozen["spatial_iou"] == frozen["spatiotemporal_iou"] == frozen["weighted_spatial_iou"] == 0.0
    assert (
        pm.physics_iq_metrics(still, still, frame(5))["spatiotemporal_iou"] == 1.0
    )  # nothing moves in either
    # Weighted: a pixel that moves in 2 of 2 predicted frames but 1 of 2 GT frames counts min/max = 0.5/1.
    p, g = np.zeros((2, 4, 4), bool), np.zeros((2, 4, 4), bool)
    p[:, 0, 0], g[0, 0, 0] = True, True
    assert pm.weighted_spatial_iou(p, g) == 0.5 and pm.spatial_iou(p, g) == 1.0
    assert np.allclose(pm.spatiotemporal_iou_per_frame(p, g), [1.0, 0.0])
    assert np.allclose(
        pm.mse_per_frame(np.zeros((1, 2, 2, 3), np.uint8), np.full((1, 2, 2, 3), 255, np.uint8)), 1.0
    )


def test_physics_iq_metrics_on_an_asymmetric_case_computed_by_hand():
    """Different masks per frame and per video, so a reduction over the wrong axis gives another number."""
    p, g = np.zeros((3, 4, 4), bool), np.zeros((3, 4, 4), bool)
    p[0, 0, :3] = True  # frame 0: pred moves at (0,0) (0,1) (0,2), GT at (0,0)
    g[0, 0, 0] = True
    p[1, 0, 0] = True  # frame 1: pred (0,0), GT (0,0) (1,1)
    g[1, 0, 0] = g[1, 1, 1] = True
    g[2, 2, 2] = True  # frame 2: pred still, GT (2,2)
    assert pm.spatial_iou(p, g) == pytest.approx(1 / 5)  # {(0,0)} / {(0,0) (0,1) (0,2) (1,1) (2,2)}
    assert np.allclose(pm.spatiotemporal_iou_per_frame(p, g), [1 / 3, 1 / 2, 0])
    # Per pixel, the fraction of frames that move: pred (0,0) 2/3, (0,1) (0,2) 1/3; GT (0,0) 2/3, (1,1) (2,2) 1/3.
    assert pm.weighted_spatial_iou(p, g) == pytest.approx((2 / 3) / (2 / 3 + 4 / 3))
    assert pm.weighted_spatial_iou(g, p) == pytest.approx(
        pm.weighted_spatial_iou(p, g)
    )  # symmetric by definition
    # Random masks of unequal sides against per-pixel loops: every reduction must run over time only.
    rng = np.random.default_rng(0)
    p, g = rng.random((5, 6, 7)) < 0.3, rng.random((5, 6, 7)) < 0.5
    lo = hi = inter = union = 0.0
    for y in range(6):
        for x in range(7):
            fp, fg = p[:, y, x].mean(), g[:, y, x].mean()
            lo, hi = lo + min(fp, fg), hi + max(fp, fg)
            inter += p[:, y, x].any() and g[:, y, x].any()
            union += p[:, y, x].any() or g[:, y, x].any()
    assert pm.weighted_spatial_iou(p, g) == pytest.approx(lo / hi)
    assert pm.spatial_iou(p, g) == pytest.approx(inter / union)
    assert np.allclose(
        pm.spatiotemporal_iou_per_frame(p, g), [(p[t] & g[t]).sum() / (p[t] | g[t]).sum() for t in range(5)]
    )
    pred, gt = np.zeros((2, 1, 2, 3), np.uint8), np.zeros((2, 1, 2, 3), np.uint8)
    gt[0, 0, 0] = 255  # frame 0 differs in one of two pixels, frame 1 not at all
    assert np.allclose(pm.mse_per_frame(pred, gt), [0.5, 0.0])


def test_feature_similarity_default_tokenizer_and_pluggable_extractors():
    gt = gt_episode("Bounce", 100000, 12)
    tok = pm.load_feature_extractor()
    feats = tok(gt.frames[:3])
    assert feats.shape == (3, 16 * 8 * 8)
    same = pm.feature_similarity(gt.frames, gt.frames, tok)
    assert np.allclose(same, 1.0, atol=1e-6)
    held = pm.feature_similarity(np.repeat(gt.frames[:1], 12, axis=0), gt.frames, tok)
    assert held[0] == pytest.approx(1.0, abs=1e-6) and held[-1] < 0.999  # the ball has moved by the end
    lab = pm.load_feature_extractor("cosmos_sim.eval.physics_metrics:to_lab")  # any module:function
    assert np.allclose(pm.feature_similarity(gt.frames[:2], gt.frames[:2], lab), 1.0)
    for bad, msg in (
        ("nope", "must be 'tokenizer' or 'module:function'"),
        ("cosmos_sim.eval.physics_metrics:missing", "cannot load feature extractor"),
        ("no_such_module_xyz:f", "cannot load feature extractor"),
        ("cosmos_sim.eval.physics_metrics:DEFAULT_FEATURES", "not callable"),
    ):
        with pytest.raises(ValueError, match=msg):
            pm.load_feature_extractor(bad)
