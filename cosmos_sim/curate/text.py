"""Stage 4: burned-in text filter (subtitles, captions, graphics) with Tesseract OCR.

Tesseract is a Debian package (``apt-get install tesseract-ocr``; ``./run`` installs it when run
as root) and needs no download at run time. A few analysis frames per clip are stacked into one image and OCR'd in sparse
text mode (``--psm 11``); a word counts when Tesseract is at least ``min_confidence`` sure of it
and it has at least ``min_chars`` letters or digits, which keeps texture noise out. The clip's
``text_words`` is the median word count over the sampled frames (burned-in text persists; a
one-frame false positive does not); at ``min_words`` or more the clip is dropped.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass

import cv2
import numpy as np

from cosmos_sim.curate.clip import Clip

STAGE = "text"


@dataclass(frozen=True)
class TextConfig:
    """Burned-in text detection."""

    enabled: bool = True
    """Run the filter (needs the ``tesseract`` program)."""
    frames: int = 3
    """Analysis frames OCR'd per clip (evenly spread)."""
    min_confidence: float = 70.0
    """Tesseract word confidence (0..100) for a word to count."""
    min_chars: int = 3
    """Letters/digits a word needs to count."""
    min_words: float = 2
    """Median confident words per frame at which a clip is dropped."""
    tesseract: str = "tesseract"
    """The Tesseract program (name on PATH or full path)."""
    timeout_s: float = 30.0
    """Per-frame OCR time limit."""


def check_tesseract(cfg: TextConfig) -> str:
    """Path of the Tesseract program, or a ValueError that says how to get it or turn the stage off."""
    exe = shutil.which(cfg.tesseract)
    if exe is None:
        raise ValueError(
            f"the text-overlay filter needs Tesseract OCR but {cfg.tesseract!r} is not on PATH: install it "
            "(Debian/Ubuntu: apt-get install tesseract-ocr) or disable the stage (config [text] enabled = false)"
        )
    return exe


def ocr_words(frames: list[np.ndarray], cfg: TextConfig) -> list[list[str]]:
    """Confident words Tesseract reads in each RGB frame (one Tesseract run for all: frames are stacked)."""
    gap = 16
    grays = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in frames]
    width = max(g.shape[1] for g in grays)
    tops, rows, y = [], [], 0
    for g in grays:
        tops.append(y)
        rows += [np.pad(g, ((0, gap), (0, width - g.shape[1])))]
        y += g.shape[0] + gap
    ok, png = cv2.imencode(".png", np.concatenate(rows))
    if not ok:  # pragma: no cover - OpenCV always encodes a uint8 image
        raise ValueError("could not encode the frames for OCR")
    proc = subprocess.run(
        [cfg.tesseract, "stdin", "stdout", "--psm", "11", "tsv"],
        input=png.tobytes(),
        capture_output=True,
        timeout=cfg.timeout_s * len(frames),
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(
            f"tesseract failed ({proc.returncode}): {proc.stderr.decode(errors='replace')[-300:]}"
        )
    words: list[list[str]] = [[] for _ in frames]
    for line in proc.stdout.decode(errors="replace").splitlines()[1:]:
        cols = line.split("\t")
        if len(cols) < 12:
            continue
        try:
            top, height, conf = int(cols[7]), int(cols[9]), float(cols[10])
        except ValueError:
            continue
        word = cols[11].strip()
        if conf >= cfg.min_confidence and sum(ch.isalnum() for ch in word) >= cfg.min_chars:
            frame = int(np.searchsorted(tops, top + height / 2, side="right")) - 1
            words[max(frame, 0)].append(word)
    return words


def apply(clip: Clip, cfg: TextConfig) -> None:
    """OCR a few frames; drop the clip when text persists across them."""
    if not cfg.enabled:
        return
    if not clip.frames:
        raise ValueError("no analysis frames to look for text in")
    idx = np.linspace(0, len(clip.frames) - 1, min(cfg.frames, len(clip.frames))).round().astype(int)
    per_frame = ocr_words([clip.frames[i] for i in idx], cfg)
    n_words = float(np.median([len(w) for w in per_frame]))
    clip.metrics["text_words"] = n_words
    found = max(per_frame, key=len)
    if found:
        clip.extra["text"] = " ".join(found)[:200]
    if n_words >= cfg.min_words:
        clip.drop(
            STAGE,
            f"burned-in text: {n_words:g} words per frame >= min_words {cfg.min_words:g} "
            f"({' '.join(found)[:60]!r})",
            n_words,
        )
