"""Test footage with known ground truth, made once per session from scikit-image photos (320x180, 30 fps)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from cosmos_sim.curate import synth

SIZE = (320, 180)
FPS = 30


@dataclass
class Footage:
    """The input directory and what was put in it."""

    root: Path
    cuts: dict[str, list[int]] = field(default_factory=dict)
    bad: list[str] = field(default_factory=list)


def _pan(name: str, n: int, velocity=(2.0, 0.0), **kw):
    return synth.pan_photo(name, n, SIZE, velocity, **kw)


@pytest.fixture(scope="session")
def footage(tmp_path_factory) -> Footage:
    root = tmp_path_factory.mktemp("raw")
    fx = Footage(root)
    # hard cuts at known frames; the 40-frame coffee shot (1.3 s) is too short to keep
    frames, cuts = synth.cut_video(
        [_pan("astronaut", 75), _pan("coffee", 40), _pan("chelsea", 90, (-2.0, 0.0)), _pan("rocket", 80)]
    )
    synth.write_video(root / "cuts.mp4", frames, FPS)
    fx.cuts["cuts.mp4"] = cuts
    synth.write_video(root / "static.mp4", _pan("immunohistochemistry", 75, (0.0, 0.0)), FPS)
    synth.write_video(root / "text.mp4", synth.burn_text(_pan("coffee", 75, (0.0, 1.5))), FPS)
    synth.write_video(root / "blur.mp4", synth.blur(_pan("chelsea", 75, (0.0, -1.5))), FPS)
    synth.write_video(root / "shake.mp4", _pan("astronaut", 75, (0.5, 0.0), shake=12.0), FPS)
    synth.write_video(root / "sub/zoom.mp4", synth.zoom(synth.photo("rocket", SIZE), 75, SIZE, 0.01), FPS)
    dup = _pan("immunohistochemistry", 75, (1.5, 1.0))
    synth.write_video(root / "dup_a.mp4", dup, FPS)
    synth.write_video(root / "dup_b.mp4", synth.blur(dup, 0.7), FPS)  # a softer re-encode of the same shot
    # bad inputs
    (root / "empty.mp4").write_bytes(b"")
    good = (root / "cuts.mp4").read_bytes()
    (root / "truncated.mp4").write_bytes(good[: len(good) // 2])
    # index first, data cut off: decoding starts, clips get written, then the decoder fails
    synth.write_video(root / "cut_short.mp4", frames, FPS, faststart=True)
    data = (root / "cut_short.mp4").read_bytes()
    (root / "cut_short.mp4").write_bytes(data[: len(data) * 2 // 3])
    (root / "notes.txt").write_text("not a video\n" * 20)
    (root / "badcodec.mp4").write_bytes(good.replace(b"avc1", b"xxxx").replace(b"avcC", b"xxxC"))
    fx.bad = ["empty.mp4", "truncated.mp4", "cut_short.mp4", "notes.txt", "badcodec.mp4"]
    return fx


@pytest.fixture(scope="session")
def curated(footage, tmp_path_factory):
    """One pipeline run over the footage (2 local worker processes): (out_dir, summary, report)."""
    import json

    from cosmos_sim.curate import CurateConfig, curate

    out = tmp_path_factory.mktemp("curated")
    summary = curate(footage.root, out, CurateConfig(workers=2, progress=False))
    return out, summary, json.loads((out / "report.json").read_text())
