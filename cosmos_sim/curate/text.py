"""Stage 4: burned-in text filter (subtitles, captions, graphics) with Tesseract OCR.

Tesseract is a Debian package (``apt-get install tesseract-ocr``; ``./run`` installs it when run
as root) and needs no download at run time. A few analysis frames per clip go to one Tesseract run
as the pages of a document, each read with automatic page segmentation (``--psm 3``); a word
counts when Tesseract is at least ``min_confidence`` sure of it and it has at least ``min_chars``
letters or digits, which keeps texture noise out. The clip's ``text_words`` is the median word
count over the sampled frames (burned-in text persists; a one-frame false positive does not); at
``min_words`` or more the clip is dropped.

Evidence from the labelled real footage (``benchmarks/curate_real``, ``cosmos-sim bench curate``):
the first version stacked the frames into one image read in sparse-text mode (``--psm 11``) and
missed white-on-black subtitles over real footage (0 of 3 frames of the subtitled box shot);
separate pages with ``--psm 3`` read them in every frame for the same CPU (about 0.1 s per clip),
and read no word with 70 % confidence in any of the 26 clean real shots (street, film, hand-held).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
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
    """Tesseract word confidence (0..100) for a word to count (texture read as letters scores lower)."""
    min_chars: int = 3
    """Letters/digits a word needs to count."""
    min_words: float = 2
    """Median confident words per frame at which a clip is dropped. Real footage: subtitled shots read
    4 words per frame, the 26 clean ones 0."""
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
    """Confident words Tesseract reads in each RGB frame (one Tesseract run: the frames are its pages)."""
    with tempfile.TemporaryDirectory(prefix="cosmos-ocr-") as tmp:
        pages = []
        for i, f in enumerate(frames):
            pages.append(os.path.join(tmp, f"{i}.png"))
            if not cv2.imwrite(pages[-1], cv2.cvtColor(f, cv2.COLOR_RGB2GRAY)):  # pragma: no cover
                raise ValueError(f"could not write {pages[-1]} for OCR (disk full?)")
        listing = os.path.join(tmp, "pages.txt")
        with open(listing, "w") as fh:
            fh.write("\n".join(pages) + "\n")
        proc = subprocess.run(
            [cfg.tesseract, listing, "stdout", "--psm", "3", "tsv"],
            capture_output=True,
            timeout=cfg.timeout_s * len(frames),
            check=False,
            # one OpenMP thread: the pipeline runs one video per core, and Tesseract's OpenMP threads would
            # spin against the other workers (about 20 % more CPU for the same words)
            env={**os.environ, "OMP_THREAD_LIMIT": "1"},
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
            page, conf = int(cols[1]), float(cols[10])
        except ValueError:
            continue
        word = cols[11].strip()
        if (
            conf >= cfg.min_confidence
            and sum(ch.isalnum() for ch in word) >= cfg.min_chars
            and 1 <= page <= len(frames)
        ):
            words[page - 1].append(word)
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
