"""The invisible watermark: invisible enough, found after MP4 and JPEG q90, not found where it was not put."""

import cv2
import imageio.v2 as iio2
import numpy as np
import pytest
from skimage import data

from cosmos_sim.errors import ConfigError
from cosmos_sim.guardrail import watermark as wm


def _psnr(a, b):
    return 10 * np.log10(255.0**2 / np.mean((a.astype(float) - b.astype(float)) ** 2))


def _jpeg(frame, quality=90):
    _, enc = cv2.imencode(".jpg", cv2.cvtColor(frame, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    return cv2.cvtColor(cv2.imdecode(enc, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


@pytest.fixture(scope="module")
def exported(scene_frames):
    """GT scene frames as the project exports them (4x nearest upscale) and a photo, each with the mark."""
    videos = [v.repeat(4, axis=1).repeat(4, axis=2) for v in scene_frames.values()]
    videos.append(data.astronaut()[None])
    return [(v, wm.Watermarker().process(v)[0]) for v in videos]


def test_the_mark_is_invisible_and_read_back_exactly(exported):
    for clean, marked in exported:
        for a, b in zip(clean, marked, strict=True):
            assert _psnr(a, b) > 37
            d = wm.detect_frame(b)
            assert d.detected and d.matching_bits == 32 and d.scale == 1


def test_unmarked_frames_are_not_detected(exported, scene_frames):
    frames = [f for clean, _ in exported for f in clean] + [f for v in scene_frames.values() for f in v]
    frames += [
        data.rocket(),
        data.coffee(),
        np.zeros((64, 64, 3), np.uint8),
        np.full((64, 64, 3), 200, np.uint8),
    ]
    assert not any(wm.detect_frame(f).detected for f in frames)


def test_the_mark_survives_h264_and_jpeg_q90(exported, tmp_path):
    for i, (_, marked) in enumerate(exported):
        if len(marked) < 2:
            marked = np.repeat(marked, 2, axis=0)
        path = tmp_path / f"v{i}.mp4"
        iio2.mimwrite(path, list(marked), fps=10, codec="libx264", pixelformat="yuv420p", macro_block_size=1)
        decoded = np.stack(iio2.mimread(path, memtest=False))
        assert wm.detect_video(decoded).fraction == 1.0, i
        assert all(wm.detect_frame(_jpeg(f)).detected for f in marked), i


def test_a_mark_put_on_small_frames_is_found_after_upscaling():
    small = data.astronaut()[::8, ::8]  # 64x64
    marked = wm.embed_frame(small)
    d = wm.detect_frame(marked.repeat(4, axis=0).repeat(4, axis=1))
    assert d.detected and d.scale == 4


def test_frames_too_small_to_hold_a_block_are_left_as_they_are():
    tiny = np.full((6, 6, 3), 90, np.uint8)
    assert np.array_equal(wm.embed_frame(tiny), tiny) and not wm.detect_frame(tiny).detected
    _, r = wm.Watermarker().process(np.full((2, 40, 40, 3), 90, np.uint8))
    assert "weak mark" in r.reason


def test_payload_is_balanced_and_the_step_is_checked():
    assert wm.PAYLOAD.sum() == 16 and wm.PAYLOAD_HEX == "c05a17e7"
    with pytest.raises(ConfigError, match="step"):
        wm.Watermarker(step=0)
