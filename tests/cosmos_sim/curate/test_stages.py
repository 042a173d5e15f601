"""Each stage finds what the synthetic footage put there (cuts, motion, blur, exposure, text, duplicates)."""

from __future__ import annotations

import shutil
from fractions import Fraction

import av
import cv2
import numpy as np
import pytest

from cosmos_sim.curate import caption, embed, motion, quality, synth, text
from cosmos_sim.curate.clip import Clip
from cosmos_sim.curate.detect import DETECTORS, CutDetector
from cosmos_sim.curate.split import SplitConfig, split_video

SIZE, FPS = (320, 180), 30  # as the footage fixture


def _pan(name: str, n: int, velocity=(2.0, 0.0), **kw) -> list[np.ndarray]:
    return synth.pan_photo(name, n, SIZE, velocity, **kw)


needs_tesseract = pytest.mark.skipif(shutil.which("tesseract") is None, reason="tesseract-ocr not installed")


def clip_of(frames: list[np.ndarray], step: int = 8) -> Clip:
    """A clip with analysis frames/pairs sampled like the splitter does."""
    c = Clip("v.mp4", "v_0000", 0, 0, len(frames), float(FPS), SIZE[0], SIZE[1])
    for i in range(0, len(frames) - 1, step):
        c.frames.append(frames[i])
        c.flow_pairs.append(tuple(cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in (frames[i], frames[i + 1])))
    return c


# ---- split ---------------------------------------------------------------------------------------
def test_split_finds_the_cuts_and_applies_the_length_rule(footage, tmp_path):
    res = split_video(footage.root / "cuts.mp4", "cuts.mp4", "cuts", tmp_path, SplitConfig())
    assert res.cuts == footage.cuts["cuts.mp4"] == [75, 115, 205]
    assert res.n_frames == 285 and res.fps == FPS and (res.width, res.height) == SIZE
    assert [(c.start_frame, c.end_frame) for c in res.clips] == [(0, 75), (75, 115), (115, 205), (205, 285)]
    short = res.clips[1]
    assert short.stage == "split" and short.path is None and short.value == pytest.approx(40 / FPS)
    assert len(short.frames) == 1  # kept for the contact sheet
    for c in (res.clips[0], res.clips[2], res.clips[3]):
        assert c.kept and len(c.frames) == int(np.ceil(c.n_frames / 8))  # 4 analysis fps at 30 fps: every 8th
        with av.open(str(tmp_path / c.path)) as f:
            s = f.streams.video[0]
            assert s.codec_context.name == "h264" and float(s.average_rate) == FPS
            assert sum(1 for _ in f.decode(s)) == c.n_frames
    assert not list(tmp_path.rglob("*.partial*"))


def test_clips_are_handed_on_while_decoding_goes_on(footage, tmp_path):
    seen = []

    def on_clip(c: Clip) -> None:  # the file is complete and the analysis frames are there
        seen.append((c.index, len(c.frames), c.path is None or (tmp_path / c.path).is_file()))
        c.frames = []

    res = split_video(footage.root / "cuts.mp4", "cuts.mp4", "cuts", tmp_path, SplitConfig(), on_clip=on_clip)
    assert seen == [(0, 10, True), (1, 1, True), (2, 12, True), (3, 10, True)]
    assert all(not c.frames for c in res.clips)


def test_long_shots_are_cut_into_pieces(footage, tmp_path):
    cfg = SplitConfig(min_clip_s=0.5, max_clip_s=1.0)  # pieces of <= 30 frames, at least 15
    res = split_video(footage.root / "cuts.mp4", "cuts.mp4", "cuts", tmp_path, cfg)
    assert [(c.start_frame, c.end_frame) for c in res.clips] == [
        (0, 30),
        (30, 60),
        (60, 75),
        (75, 105),
        (105, 115),
        (115, 145),
        (145, 175),
        (175, 205),
        (205, 235),
        (235, 265),
        (265, 285),
    ]
    assert [c.index for c in res.clips if not c.kept] == [4]  # 10 frames < 0.5 s


def test_other_codecs_odd_sizes_and_frame_rates(tmp_path):
    """FFV1 4:4:4 in Matroska, 321x181 at 25 fps: cut found, clips become even-sized H.264 at 25 fps."""
    from fractions import Fraction

    size = (321, 181)
    frames, cuts = synth.cut_video(
        [synth.pan_photo("astronaut", 60, size), synth.pan_photo("coffee", 60, size)]
    )
    with av.open(str(tmp_path / "odd.mkv"), "w") as c:
        s = c.add_stream("ffv1", rate=Fraction(25))
        s.width, s.height, s.pix_fmt = *size, "yuv444p"
        for f in frames:
            c.mux(s.encode(av.VideoFrame.from_ndarray(f, format="rgb24")))
        c.mux(s.encode())
    res = split_video(tmp_path / "odd.mkv", "odd.mkv", "odd", tmp_path / "out", SplitConfig())
    assert res.cuts == cuts == [60] and res.fps == 25.0 and (res.width, res.height) == (320, 180)
    with av.open(str(tmp_path / "out" / res.clips[1].path)) as f:
        s = f.streams.video[0]
        assert (s.width, s.height, float(s.average_rate)) == (320, 180, 25.0)
        assert s.codec_context.name == "h264" and sum(1 for _ in f.decode(s)) == 60


@pytest.mark.parametrize("detector", DETECTORS)
def test_detectors_ignore_fast_pans_but_not_cuts(detector):
    frames, cuts = synth.cut_video([_pan("coffee", 30, (12.0, 0.0)), _pan("astronaut", 30, (12.0, 0.0))])
    det = CutDetector(SplitConfig(detector=detector), Fraction(FPS))
    found = [c for i, f in enumerate(frames) for c in det.push(i, cv2.cvtColor(f, cv2.COLOR_RGB2BGR))]
    found += det.finish()
    assert cuts == [30] and found == ([] if detector == "threshold" else cuts)


def test_fades_through_black_are_cut_where_it_goes_dark_and_where_it_comes_back():
    a, b = _pan("coffee", 40), _pan("astronaut", 40)
    dim = [(f * (1 - k / 10)).astype(np.uint8) for k, f in enumerate(a[-10:], 1)]
    frames = (
        a[:-10]
        + dim
        + [np.zeros_like(a[0])] * 5
        + [(f * min(k / 10, 1)).astype(np.uint8) for k, f in enumerate(b, 1)]
    )
    det = CutDetector(SplitConfig(), Fraction(FPS))
    found = [c for i, f in enumerate(frames) for c in det.push(i, cv2.cvtColor(f, cv2.COLOR_RGB2BGR))]
    means = [f.mean() for f in frames]
    dark = [i for i, m in enumerate(means) if m < 12]
    # the first frame under the fade threshold, and the first one back above it (adaptive adds none here)
    assert found[0] == dark[0] and found[-1] == dark[-1] + 1 and len(found) <= 3


def test_missing_pyscenedetect_is_a_clear_error_and_the_causal_detector_does_without(monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "scenedetect", None)  # as if not installed
    with pytest.raises(
        ImportError, match="pip install --no-deps 'scenedetect>=0.7,<0.8'.*detector = .causal."
    ):
        CutDetector(SplitConfig(), Fraction(FPS))
    det = CutDetector(SplitConfig(detector="causal"), Fraction(FPS))
    frames, cuts = synth.cut_video([_pan("coffee", 30), _pan("astronaut", 30)])
    assert [c for i, f in enumerate(frames) for c in det.push(i, f[..., ::-1])] + det.finish() == cuts == [30]


def test_bad_split_config_is_a_clear_error():
    with pytest.raises(ValueError, match="min_clip_s <= max_clip_s"):
        SplitConfig(min_clip_s=5, max_clip_s=2)
    with pytest.raises(
        ValueError, match=r"one of \['adaptive\+fade'.*got 'scenedetect'; set \[split\] detector"
    ):
        SplitConfig(detector="scenedetect")


# ---- motion --------------------------------------------------------------------------------------
def test_motion_measures_pan_speed_and_direction():
    c = clip_of(_pan("astronaut", 40, (2.0, 0.0)))
    motion.apply(c, motion.MotionConfig())
    assert c.kept and c.tags == ["pan_right"]
    assert c.metrics["pan_x"] == pytest.approx(-2.0 * FPS / SIZE[0], rel=0.1)  # content moves left
    c = clip_of(_pan("astronaut", 40, (0.0, -2.0)))
    motion.apply(c, motion.MotionConfig())
    assert c.kept and c.tags == ["tilt_up"]


def test_motion_tags_zoom_and_drops_static_and_shaky_clips():
    img = synth.photo("rocket", SIZE)
    c = clip_of(synth.zoom(img, 40, SIZE, 0.01))
    motion.apply(c, motion.MotionConfig())
    # 1 %/frame = 0.3/s; Farneback at 160 px underestimates it (sub-pixel flow is smoothed away)
    assert c.kept and c.tags == ["zoom_in"] and 0.1 < c.metrics["zoom"] < 0.35
    out = clip_of(synth.zoom(img, 40, SIZE, 0.01)[::-1])
    motion.apply(out, motion.MotionConfig())
    assert out.kept and out.tags == ["zoom_out"] and -0.35 < out.metrics["zoom"] < -0.1
    static = clip_of(_pan("coffee", 40, (0.0, 0.0)))
    motion.apply(static, motion.MotionConfig())
    assert static.stage == "motion" and "static" in static.reason and static.value < 0.01
    shaky = clip_of(_pan("astronaut", 40, (0.5, 0.0), shake=12.0))
    motion.apply(shaky, motion.MotionConfig())
    assert shaky.stage == "motion" and "erratic" in shaky.reason and shaky.value > 0.3


# ---- quality -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "make, reason",
    [
        (lambda f: f, None),
        (lambda f: synth.blur(f, 4.0), "blurry"),
        (lambda f: synth.expose(f, 4.0), "over-exposed"),
        (lambda f: synth.expose(f, 0.15), "under-exposed"),
    ],
)
def test_quality_filter(make, reason):
    c = clip_of(make(_pan("chelsea", 20)))
    quality.apply(c, quality.QualityConfig())
    if reason is None:
        assert c.kept and c.metrics["sharpness"] > 100
    else:
        assert c.stage == "quality" and c.reason.startswith(reason)


# ---- text ----------------------------------------------------------------------------------------
@needs_tesseract
def test_text_filter_reads_burned_in_text_and_passes_clean_frames():
    c = clip_of(synth.burn_text(_pan("coffee", 40), "BREAKING NEWS TODAY"))
    text.apply(c, text.TextConfig())
    assert c.stage == "text" and c.value >= 2 and "BREAKING" in c.extra["text"]
    clean = clip_of(_pan("coffee", 40))
    text.apply(clean, text.TextConfig())
    assert clean.kept and clean.metrics["text_words"] == 0


def test_missing_tesseract_is_a_clear_error():
    with pytest.raises(ValueError, match="apt-get install tesseract-ocr"):
        text.check_tesseract(text.TextConfig(tesseract="no-such-tesseract"))


# ---- caption -------------------------------------------------------------------------------------
def test_stats_caption_describes_motion_and_colour():
    c = clip_of(_pan("astronaut", 60, (2.0, 0.0)))
    motion.apply(c, motion.MotionConfig())
    quality.apply(c, quality.QualityConfig())
    caption.apply(c, caption.CaptionConfig())
    assert c.caption.startswith("A 2.0 s 320x180 clip; the camera pans right;") and "tones" in c.caption
    assert caption.dominant_colours([np.full((18, 32, 3), (40, 80, 200), np.uint8)]) == ["blue"]


def test_vlm_captioner_needs_a_local_checkpoint(tmp_path):
    with pytest.raises(ValueError, match="needs model_path"):
        caption.CaptionConfig(captioner="vlm")
    with pytest.raises(ValueError, match="only loaded from a local path"):
        caption.check_model_path(str(tmp_path / "missing"))


# ---- embed + dedup -------------------------------------------------------------------------------
def test_embedding_separates_scenes_and_matches_copies():
    a = _pan("astronaut", 40)
    e = [embed.thumbs_embedding(clip_of(f).frames) for f in (a, synth.blur(a, 0.7), _pan("coffee", 40))]
    assert all(abs(np.linalg.norm(v) - 1) < 1e-5 for v in e)
    assert e[0] @ e[1] > 0.97 and e[0] @ e[2] < 0.8


def test_dedup_keeps_the_sharpest_copy():
    clips, rows = [], []
    for i, (name, sharp) in enumerate([("a", 10.0), ("b", 50.0), ("c", 20.0)]):
        c = Clip("v", name, i, 0, 60, 30.0, 320, 180, metrics={"sharpness": sharp})
        clips.append(c)
    rows = np.array([[1.0, 0.0, 0.0], [0.99, 0.05, 0.0], [0.0, 1.0, 0.0]])
    embed.dedup(clips, rows, embed.DedupConfig(n_clusters=2))
    assert clips[1].kept and clips[2].kept
    assert clips[0].stage == "dedup" and clips[0].extra["duplicate_of"] == "b" and clips[0].value > 0.95
    x = np.random.default_rng(0).normal(size=(50, 4))
    assert np.array_equal(embed.kmeans(x, 3, seed=1), embed.kmeans(x, 3, seed=1))


def test_vlm_captioner_with_a_tiny_random_blip(tmp_path):
    """A randomly initialised 1-layer BLIP saved to disk: loads from the path only and returns vocab words."""
    torch = pytest.importorskip("torch")
    tf = pytest.importorskip("transformers")
    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "photo", "of", "cat", "dog", "the"]
    (tmp_path / "vocab.txt").write_text("\n".join(words) + "\n")
    torch.manual_seed(0)
    small = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1, "num_attention_heads": 2}
    cfg = tf.BlipConfig(
        text_config={
            **small,
            "vocab_size": len(words),
            "max_position_embeddings": 32,
            "encoder_hidden_size": 32,
            "bos_token_id": 2,
            "sep_token_id": 3,
            "pad_token_id": 0,
        },
        vision_config={**small, "image_size": 32, "patch_size": 8},
        projection_dim=32,
    )
    tf.BlipForConditionalGeneration(cfg).save_pretrained(tmp_path)
    tf.BlipProcessor(
        image_processor=tf.BlipImageProcessor(size={"height": 32, "width": 32}),
        tokenizer=tf.BertTokenizer(str(tmp_path / "vocab.txt")),
    ).save_pretrained(tmp_path)
    c = clip_of(_pan("coffee", 20))
    caption.apply(c, caption.CaptionConfig(captioner="vlm", model_path=str(tmp_path), max_new_tokens=4))
    assert c.caption and set(c.caption.split()) <= set(words[5:])
