"""Rebuild the labelled real-footage set of ``cosmos-sim bench curate`` from Debian's ``opencv-doc``.

The videos in this folder and ``labels.json`` were made by this script; the tests and the benchmark
only read them (nothing is fetched at run time). To rebuild (needs the Debian package, about 95 MB)::

    apt-get install opencv-doc          # or: apt-get download opencv-doc && dpkg-deb -x opencv-doc_*.deb ROOT
    python benchmarks/curate_real/make_set.py [--root ROOT]

Every source is real footage shipped by ``opencv-doc`` 4.6.0+dfsg-12 (OpenCV's sample data and tutorial
videos; Debian's copyright file puts them under ``Files: *``, Apache-2.0 AND BSD-3-Clause). The videos
are edits of those sources: shots (crops of the source frames, played one source frame per output frame)
joined by hard cuts, fades through black and cross-dissolves at frames chosen here, plus Megamind's
own cuts (found by eye, see ``MEGAMIND_CUTS``). Some shots are doctored the way real footage goes
wrong, to measure each filter on real content: a frozen frame (static), burned-in subtitles (text)
a defocus blur (blurry) and a wrong exposure. ``labels.json`` lists every transition and every shot with the fate the
pipeline should give it.
"""

from __future__ import annotations

import argparse
import gzip
import json
import shutil
import tempfile
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from cosmos_sim.curate import synth

HERE = Path(__file__).resolve().parent
DOC = "usr/share/doc/opencv-doc"
PACKAGE = "opencv-doc 4.6.0+dfsg-12 (Debian 13)"
LICENCE = "Apache-2.0 AND BSD-3-Clause (Debian copyright file of opencv, Files: *)"
SOURCES = {
    "vtest": (
        f"{DOC}/examples/data/vtest.avi",
        "pedestrians on a campus street and lawn, fixed camera, 768x576, 10 fps, 795 frames",
    ),
    "megamind": (
        f"{DOC}/examples/data/Megamind.avi",
        "film trailer excerpt (rendered animation, edited with cuts), dark interior, 720x528, 23.976 fps",
    ),
    "box": (f"{DOC}/opencv4/html/box.mp4.gz", "a hand moves a box over a table, 640x480, 30 fps, 455 frames"),
    "cup": (
        f"{DOC}/opencv4/html/cup.mp4.gz",
        "a hand turns a cup, white wall, 640x480, 26.8 fps, 217 frames",
    ),
    "tree": (
        f"{DOC}/examples/data/tree.avi",
        "a tree against a bright sky, a hand enters, 320x240, 15 fps, 68 frames",
    ),
}
#: Megamind.avi's own shot changes (source frame of the new shot's first frame), checked by eye; its
#: frame 0 is black and is left out of the set.
MEGAMIND_CUTS = (98, 154, 200)
FPS = 25
SIZE = (640, 480)
FADE = (10, 5, 10)  # frames fading out, black, fading in
DISSOLVE = 12


@dataclass(frozen=True)
class Shot:
    """A piece of a source: ``src`` frames [start, end) cropped to ``crop`` (x, y, w, h; None: whole frame)."""

    src: str
    start: int
    end: int
    crop: tuple[int, int, int, int] | None = None
    effect: str = ""  # "", "freeze", "subtitles:<text>", "defocus:<sigma>", "expose:<gain>"
    expect: str = "keep"  # keep, static, text, blurry, exposure
    note: str = ""


def load_sources(root: Path) -> dict[str, list[np.ndarray]]:
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, (rel, _) in SOURCES.items():
            path = root / rel
            if path.suffix == ".gz":
                plain = Path(tmp) / path.stem
                with gzip.open(path) as f, open(plain, "wb") as g:
                    shutil.copyfileobj(f, g)
                path = plain
            with av.open(str(path)) as c:
                out[name] = [f.to_ndarray(format="rgb24") for f in c.decode(c.streams.video[0])]
    return out


def render(shot: Shot, src: dict[str, list[np.ndarray]], size: tuple[int, int]) -> list[np.ndarray]:
    frames = src[shot.src][shot.start : shot.end]
    if shot.effect == "freeze":
        frames = [frames[0]] * len(frames)
    out = []
    for f in frames:
        if shot.crop:
            x, y, w, h = shot.crop
            f = f[y : y + h, x : x + w]
        else:  # centre crop to the output aspect
            h, w = f.shape[:2]
            cw = min(w, round(h * size[0] / size[1]))
            ch = min(h, round(w * size[1] / size[0]))
            f = f[(h - ch) // 2 : (h - ch) // 2 + ch, (w - cw) // 2 : (w - cw) // 2 + cw]
        interp = cv2.INTER_AREA if f.shape[1] >= size[0] else cv2.INTER_CUBIC
        out.append(cv2.resize(f, size, interpolation=interp))
    if shot.effect.startswith("subtitles:"):
        out = synth.burn_text(out, shot.effect.split(":", 1)[1])
    elif shot.effect.startswith("defocus:"):
        out = synth.blur(out, float(shot.effect.split(":", 1)[1]))
    elif shot.effect.startswith("expose:"):
        out = synth.expose(out, float(shot.effect.split(":", 1)[1]))
    return out


def edit(items: list, src, size) -> tuple[list[np.ndarray], list[dict], list[dict]]:
    """Join shots; ``items`` alternates Shot and transition ("cut", "fade", "dissolve")."""
    frames: list[np.ndarray] = []
    shots, transitions = [], []
    pending = None
    for item in items:
        if isinstance(item, str):
            pending = item
            continue
        new = render(item, src, size)
        start = len(frames)
        if pending == "cut" or pending is None:
            if pending:
                transitions.append({"type": "cut", "frame": start})
        elif pending == "fade":
            n_out, n_black, n_in = FADE
            t0 = len(frames) - n_out
            for i in range(n_out):  # the end of the previous shot dims
                frames[t0 + i] = (frames[t0 + i] * (1 - (i + 1) / n_out)).astype(np.uint8)
            frames += [np.zeros_like(new[0])] * n_black
            for i in range(n_in):
                new[i] = (new[i] * ((i + 1) / (n_in + 1))).astype(np.uint8)
            start = len(frames)
            transitions.append({"type": "fade", "start": t0, "end": start + n_in})
        elif pending == "dissolve":
            t0 = len(frames) - DISSOLVE
            for i in range(DISSOLVE):
                a = (i + 1) / (DISSOLVE + 1)
                frames[t0 + i] = cv2.addWeighted(frames[t0 + i], 1 - a, new[i], a, 0)
            new = new[DISSOLVE:]
            start = len(frames)
            transitions.append({"type": "dissolve", "start": t0, "end": start})
        skipped = DISSOLVE if pending == "dissolve" else 0  # source frames blended into the previous shot
        pending = None
        frames += new
        cuts_inside = [c for c in MEGAMIND_CUTS if item.src == "megamind" and item.start < c < item.end]
        bounds = [item.start, *cuts_inside, item.end]
        for a, b in zip(bounds, bounds[1:], strict=False):
            s0 = max(start, start + a - item.start - skipped)
            if a != item.start:
                transitions.append({"type": "cut", "frame": s0, "note": "Megamind's own cut"})
            shots.append(
                {
                    "start": s0,
                    "end": start + b - item.start - skipped,
                    "source": item.src,
                    "source_frames": [a, b],
                    "crop": list(item.crop) if item.crop else None,
                    "effect": item.effect,
                    "expect": item.expect if b - a >= 2 * FPS else "short",
                    "note": item.note,
                }
            )
    return frames, shots, transitions


def encode(path: Path, frames: list[np.ndarray], fps: int, crf: int) -> None:
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=Fraction(fps))
        s.width, s.height, s.pix_fmt = frames[0].shape[1], frames[0].shape[0], "yuv420p"
        s.options = {"preset": "slow", "crf": str(crf)}
        for f in frames:
            c.mux(s.encode(av.VideoFrame.from_ndarray(f, format="rgb24")))
        c.mux(s.encode())


V_LEFT, V_RIGHT, V_MID = (0, 150, 384, 288), (384, 200, 384, 288), (200, 120, 480, 360)
VIDEOS = {
    "montage.mp4": [
        Shot("vtest", 0, 100, note="wide street, walkers"),
        "cut",
        Shot("box", 90, 190, (80, 60, 480, 360)),
        "cut",
        Shot("megamind", 2, 270, note="the trailer's own cuts inside"),
        "fade",
        Shot("cup", 0, 90),
        "cut",
        Shot("vtest", 100, 200, V_LEFT, note="closer framing of the same street"),
        "cut",
        Shot("vtest", 450, 550, V_RIGHT, note="same street, other side: a cut between two framings"),
        "cut",
        Shot("tree", 0, 68),
        "dissolve",
        Shot("box", 200, 300),
        "cut",
        Shot("cup", 100, 200, (110, 80, 420, 315)),
        "fade",
        Shot("vtest", 600, 700, V_MID),
        "cut",
        Shot("box", 300, 400, (0, 0, 480, 360)),
        "cut",
        Shot("megamind", 154, 200, note="1.8 s: shorter than min_clip_s"),
        "cut",
        Shot("vtest", 700, 795),
    ],
    "filters.mp4": [
        Shot("vtest", 300, 400, note="fixed camera, small walkers: must not be called static"),
        "cut",
        Shot("box", 250, 325, effect="freeze", expect="static", note="a frozen frame"),
        "cut",
        Shot("cup", 0, 90, effect="subtitles:WHERE DID YOU PUT IT", expect="text"),
        "cut",
        Shot("vtest", 200, 300, V_LEFT, effect="defocus:4", expect="blurry"),
        "cut",
        Shot("megamind", 98, 154, note="dark interior (mean luma ~0.14): must not be called under-exposed"),
        "cut",
        Shot("tree", 0, 68, note="backlit tree, sky clipped white: must not be called over-exposed"),
        "cut",
        Shot("box", 100, 200, effect="subtitles:THE BOX IS ON THE TABLE", expect="text"),
        "cut",
        Shot("cup", 100, 200, effect="defocus:3", expect="blurry"),
        "cut",
        Shot("vtest", 500, 575, V_RIGHT, effect="freeze", expect="static"),
        "cut",
        Shot("cup", 120, 217, (0, 0, 480, 360), note="soft white-wall footage (low sharpness): keep"),
        "cut",
        Shot("vtest", 600, 700, V_RIGHT),
        "cut",
        Shot("box", 0, 75, note="a hand holds the box almost still: little but real motion, keep"),
        "cut",
        Shot("vtest", 100, 200, V_MID, effect="expose:0.15", expect="exposure", note="under-exposed"),
        "cut",
        Shot("cup", 0, 90, (0, 0, 480, 360), effect="expose:2.5", expect="exposure", note="over-exposed"),
    ],
}


def street_cut(src) -> tuple[list[np.ndarray], int]:
    """Issue 23's case at 720p 25 fps, 7.6 s: a pan along the street, cut at 4.6 s to a reverse pan
    of another stretch of it (the mean HSV difference spikes to ~8x the video's median)."""
    size = (1280, 720)

    def pan(start, n, x0, y0, w, vx):
        h = w * 9 / 16
        return [
            cv2.resize(
                src["vtest"][start + i][
                    round(y0) : round(y0 + h), round(x0 + vx * i) : round(x0 + vx * i + w)
                ],
                size,
                interpolation=cv2.INTER_CUBIC,
            )
            for i in range(n)
        ]

    frames = pan(0, 115, 0, 80, 600, 1.2) + pan(400, 75, 120, 150, 600, -1.0)
    return frames, 115


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", default="/", help="where usr/share/doc/opencv-doc is (default /)")
    args = ap.parse_args()
    src = load_sources(Path(args.root))
    labels = {
        "about": (
            "Real footage with known shot changes and filter fates for cosmos-sim bench curate; made by "
            "make_set.py from Debian's opencv-doc. A cut is the index of the first frame of the new shot; "
            "a fade or dissolve spans [start, end) frames. Shot 'expect' is the fate the per-video stages "
            "should give a clip of it: keep, static, text, blurry (shots under min_clip_s are dropped by split)."
        ),
        "sources": {
            k: {"file": f"/{p}", "package": PACKAGE, "licence": LICENCE, "what": w}
            for k, (p, w) in SOURCES.items()
        },
        "videos": {},
    }
    for name, items in VIDEOS.items():
        frames, shots, transitions = edit(items, src, SIZE)
        encode(HERE / name, frames, FPS, crf=29)
        labels["videos"][name] = {
            "fps": FPS,
            "n_frames": len(frames),
            "size": list(SIZE),
            "transitions": sorted(transitions, key=lambda t: t.get("frame", t.get("start"))),
            "shots": shots,
        }
    frames, cut = street_cut(src)
    encode(HERE / "street_cut.mp4", frames, FPS, crf=30)
    labels["videos"]["street_cut.mp4"] = {
        "fps": FPS,
        "n_frames": len(frames),
        "size": [1280, 720],
        "transitions": [{"type": "cut", "frame": cut, "note": "issue 23: the cut at 4.6 s"}],
        "shots": [
            {"start": 0, "end": cut, "source": "vtest", "source_frames": [0, 115], "expect": "keep"},
            {
                "start": cut,
                "end": len(frames),
                "source": "vtest",
                "source_frames": [400, 475],
                "expect": "keep",
            },
        ],
    }
    (HERE / "labels.json").write_text(json.dumps(labels, indent=1) + "\n")


if __name__ == "__main__":
    main()
