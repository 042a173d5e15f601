"""The model-based checks, each only from a path the user gives: nothing is downloaded.

    LMGuardCheck("/models/llama-guard-3-1b")       # a local transformers causal LM (Llama Guard style)
    LMGuardCheck("my_guards.py:check_prompt")      # or any function text -> verdict
    ContentClassifierCheck("nsfw.py:score_frames") # function frames -> unsafe probability per frame

A plug-in function is named ``module:function`` (an importable module) or ``path/file.py:function``.

- Text: ``function(text)`` returns ``True``/``False`` (safe or not), ``(safe, reason)``, or a string
  answered the way Llama Guard answers ("safe", or "unsafe" and a line of category codes).
- Video: ``function(frames)`` takes (T, H, W, 3) uint8 RGB frames and returns the probability that each
  frame is unsafe (T numbers, or one for the whole video); at or above ``threshold`` blocks.

A directory is loaded with ``transformers`` (``local_files_only``): its chat template (Llama Guard's
carries the safety policy) wraps the prompt as a user turn, or, without one, a short instruction does;
greedy decoding of a few tokens gives the verdict. An answer that is neither "safe" nor "unsafe" blocks
(a guard that cannot be read is not a pass).
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from cosmos_sim.errors import ConfigError
from cosmos_sim.guardrail.runner import CheckResult, as_video

_FALLBACK_PROMPT = (
    "Task: check whether the user message below asks for unsafe content (violence, weapons, sexual "
    "content, hate, self-harm, crime). Answer 'safe' or 'unsafe'.\n\nUser: {text}\n\nAnswer:"
)


def load_function(spec: str) -> Callable:
    """The function named by ``module:function`` or ``path/file.py:function``."""
    target, sep, name = spec.rpartition(":")
    if not sep or not target or not name.isidentifier():
        raise ConfigError(
            f"plug-in {spec!r} is not 'module:function' or 'path/file.py:function'; e.g. my_guards.py:check"
        )
    if target.endswith(".py"):
        path = Path(target)
        if not path.is_file():
            raise ConfigError(f"plug-in file {path} does not exist; pass an existing .py file")
        mod_spec = importlib.util.spec_from_file_location(f"cosmos_sim_plugin_{path.stem}", path)
        module = importlib.util.module_from_spec(mod_spec)
        sys.modules[mod_spec.name] = module
        mod_spec.loader.exec_module(module)
    else:
        try:
            module = importlib.import_module(target)
        except ImportError as e:
            raise ConfigError(
                f"plug-in module {target!r} cannot be imported ({e}); check the name or the path"
            ) from e
    fn = getattr(module, name, None)
    if not callable(fn):
        raise ConfigError(f"plug-in {spec!r}: {target} has no function {name!r}")
    return fn


def parse_verdict(answer: Any) -> tuple[bool, str]:
    """(safe, reason) from a guard's answer: a bool, (bool, reason), or Llama Guard text."""
    if isinstance(answer, bool | np.bool_):
        return bool(answer), "" if answer else "the guard answered unsafe"
    if isinstance(answer, tuple) and len(answer) == 2 and isinstance(answer[0], bool | np.bool_):
        return bool(answer[0]), str(answer[1])
    if isinstance(answer, str):
        lines = [ln.strip() for ln in answer.strip().splitlines() if ln.strip()]
        first = lines[0].lower() if lines else ""
        if first.startswith("unsafe"):
            return False, "unsafe" + (f" ({lines[1]})" if len(lines) > 1 else "")
        if first.startswith("safe"):
            return True, ""
        return False, f"the guard's answer {answer.strip()[:60]!r} is neither 'safe' nor 'unsafe'"
    raise ConfigError(
        f"a text guard returned {type(answer).__name__}; expected a bool, (bool, reason) or 'safe'/'unsafe' text"
    )


class _LocalLM:
    """A transformers causal LM from a local directory, answering one prompt at a time."""

    def __init__(self, path: Path, max_new_tokens: int, device: str):
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        self.model = AutoModelForCausalLM.from_pretrained(path, local_files_only=True).to(device).eval()
        self.max_new_tokens, self.device = max_new_tokens, device

    def __call__(self, text: str) -> str:
        import torch

        tok = self.tokenizer
        if getattr(tok, "chat_template", None):
            ids = tok.apply_chat_template([{"role": "user", "content": text}], add_generation_prompt=True)
            ids = ids["input_ids"] if isinstance(ids, dict) or hasattr(ids, "keys") else ids
        else:
            ids = tok(_FALLBACK_PROMPT.format(text=text))["input_ids"]
        x = torch.tensor([list(ids)], device=self.device)
        with torch.no_grad():
            out = self.model.generate(
                x,
                attention_mask=torch.ones_like(x),
                max_new_tokens=self.max_new_tokens,
                do_sample=False,
                pad_token_id=tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id,
            )
        return tok.decode(out[0, x.shape[1] :], skip_special_tokens=True)


class LMGuardCheck:
    """A local language-model guard (or any text guard function) as a ``TextCheck``."""

    name = "lm-guard"

    def __init__(self, spec: str, max_new_tokens: int = 10, device: str = "cpu"):
        path = Path(spec)
        if path.is_dir():
            if not (path / "config.json").is_file():
                raise ConfigError(
                    f"lm guard directory {path} has no config.json; pass a local transformers model directory "
                    "(e.g. a Llama Guard checkpoint you downloaded) or a 'file.py:function'"
                )
            self.fn: Callable = _LocalLM(path, max_new_tokens, device)
        else:
            self.fn = load_function(spec)
        self.spec = spec

    def check(self, text: str) -> CheckResult:
        answer = self.fn(text)
        safe, reason = parse_verdict(answer)
        details = {"guard": self.spec, "answer": answer if isinstance(answer, str) else repr(answer)}
        return CheckResult(self.name, not safe, blocks=not safe, reason=reason, details=details)


class ContentClassifierCheck:
    """A per-frame content classifier from a local path as a ``VideoCheck``: blocks at ``threshold``."""

    name = "content"

    def __init__(self, spec: str, threshold: float = 0.5):
        if not 0.0 < threshold <= 1.0:
            raise ConfigError(f"classifier threshold = {threshold!r}, expected a probability in (0, 1]")
        self.fn, self.spec, self.threshold = load_function(spec), spec, threshold

    def check(self, frames: np.ndarray) -> CheckResult:
        video = as_video(frames)
        scores = np.atleast_1d(np.asarray(self.fn(video), dtype=np.float64)).reshape(-1)
        if scores.size not in (1, len(video)) or not np.isfinite(scores).all():
            raise ConfigError(
                f"classifier {self.spec} returned {scores.size} scores for {len(video)} frames; expected one "
                "finite probability per frame (or one for the video)"
            )
        bad = np.flatnonzero(scores >= self.threshold)
        details = {"classifier": self.spec, "max_score": float(scores.max()), "unsafe_frames": bad.tolist()}
        if not len(bad):
            return CheckResult(self.name, False, details=details)
        where = (
            "the video" if scores.size == 1 else f"{len(bad)} of {len(video)} frames (first: {int(bad[0])})"
        )
        reason = f"unsafe content in {where}, score {scores.max():.2f} >= {self.threshold}"
        return CheckResult(self.name, True, blocks=True, reason=reason, details=details)


__all__ = ["ContentClassifierCheck", "LMGuardCheck", "load_function", "parse_verdict"]
