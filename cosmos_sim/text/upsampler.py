"""Prompt upsampler: a user's short prompt -> the long, detailed caption the text world model was trained on.

Cosmos upsamples prompts with a 7B VLM; here the captions come from a fixed grammar
(``envs/captions.py``), so the default upsampler is rules over that grammar, deterministic and offline::

    "a purple ball hits a green ball"
       --parse: scene words -> scenario, colour words in order -> the scenario's objects, left/right ->
         the direction; the rest from the scenario's typical episode (``DEFAULTS``)--> facts
       --envs.captions.render_caption--> "A purple ball starts on the left and rolls to the right across the
         grey floor. It hits a green ball resting in the centre, which is knocked to the right."

A prompt that names no known scene is returned unchanged. ``Upsampler(lm="DIR")`` uses a local Hugging Face
causal language model instead (few-shot prompt built from the grammar's own examples, greedy decoding;
``local_files_only``: nothing is downloaded), falling back to the rules when its answer is empty.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from typing import Any

from cosmos_sim.envs.captions import render_caption
from cosmos_sim.errors import ConfigError

COLOURS = ("red", "blue", "yellow", "green", "orange", "purple")
# Scene keywords, checked in this order (the first match wins: "a ball hits a ball" is a collision even
# though it has no "collision" word; "dominoes fall" is dominoes, not free fall).
SCENE_WORDS: tuple[tuple[str, str], ...] = (
    ("camera_orbit", r"camera|orbit|circl"),
    ("push", r"robot|arm|push(es)? the"),
    ("dominoes", r"domino"),
    ("stack_topple", r"stack|tower|topple"),
    ("pendulum", r"pendulum|swing|rod"),
    ("inclined_plane", r"ramp|slope|incline"),
    ("projectile", r"launch|thrown|throw|projectile|arc"),
    ("collision", r"\bhit|collid|collision|knock|crash"),
    ("bounce", r"bounc"),
    ("free_fall", r"fall|drop"),
)


def _obj(name: str, kind: str, colour: str, start: str, motion: str) -> dict[str, Any]:
    return {"name": name, "kind": kind, "colour": colour, "start": start, "motion": motion, "falls": False}


#: The typical episode of every scene (colours are replaced by the prompt's, then by unused palette colours).
DEFAULTS: dict[str, dict[str, Any]] = {
    "free_fall": {
        "objects": [
            _obj("ball", "ball", "red", "left", "still"),
            _obj("block", "block", "blue", "right", "still"),
        ],
        "first_down": "ball",
    },
    "inclined_plane": {
        "objects": [
            _obj("ball", "ball", "red", "left", "right"),
            _obj("block", "block", "blue", "left", "right"),
        ]
    },
    "bounce": {"objects": [_obj("ball", "ball", "red", "right", "left")]},
    "collision": {
        "objects": [
            _obj("ball_a", "ball", "red", "left", "right"),
            _obj("ball_b", "ball", "blue", "centre", "right"),
        ],
        "events": [["hits", "ball_a", "ball_b"]],
    },
    "stack_topple": {
        "objects": [
            _obj(f"block_{i}", "block", c, "left", "right")
            for i, c in enumerate(("blue", "green", "yellow", "red"))
        ],
        "toppled": True,
    },
    "dominoes": {
        "objects": [
            _obj(f"domino_{i}", "domino", c, "left", "right")
            for i, c in enumerate(("red", "orange", "yellow", "green", "blue"))
        ],
        "fallen": 5,
    },
    "pendulum": {
        "objects": [
            _obj("rod", "rod", "yellow", "centre", "right"),
            _obj("bob", "ball", "red", "left", "right"),
        ]
    },
    "projectile": {"objects": [_obj("ball", "ball", "red", "left", "right")]},
    "camera_orbit": {
        "objects": [
            _obj(n, k, c, "centre", "still")
            for n, k, c in (
                ("box_0", "box", "red"),
                ("sphere_0", "sphere", "blue"),
                ("cylinder_0", "cylinder", "yellow"),
                ("box_1", "box", "green"),
                ("cylinder_1", "cylinder", "purple"),
            )
        ],
        "camera": "clockwise",
    },
    "push": {"objects": [_obj("red_block", "block", "red", "centre", "right")], "reached_goal": True},
}
# Which object a colour word names, in the order colours are mentioned (pendulum: "a red ball on a blue rod").
MENTION_ORDER = {"pendulum": ("bob", "rod")}


def parse_prompt(prompt: str) -> dict[str, Any] | None:
    """The facts a short prompt gives, completed from ``DEFAULTS``; None when it names no known scene."""
    text = prompt.lower()
    scene = next((s for s, pattern in SCENE_WORDS if re.search(pattern, text)), None)
    if scene is None:
        return None
    facts = copy.deepcopy(DEFAULTS[scene]) | {"scene": scene}
    facts.setdefault("events", [])
    objs = facts["objects"]
    order = MENTION_ORDER.get(scene)
    targets = [next(o for o in objs if o["name"] == n) for n in order] if order else list(objs)
    if scene == "push":
        targets = objs  # "the red block to the green disc": the disc is not an object
    named = [m.group(0) for m in re.finditer("|".join(COLOURS), text)]
    if scene == "push":
        named = named[:1]
    used = set(named[: len(targets)])
    spare = [c for c in COLOURS if c not in used]
    for i, o in enumerate(targets):  # unnamed objects get unused colours: the scenes' colours are distinct
        o["colour"] = named[i] if i < len(named) else spare.pop(0)
    if scene == "push":
        o = objs[0]
        o["name"], o["kind"] = f"{o['colour']}_block", "block"
    direction = "left" if re.search(r"\bleft\b", text) else "right" if re.search(r"\bright\b", text) else None
    if direction and scene not in ("camera_orbit", "free_fall"):
        other = "right" if direction == "left" else "left"
        for o in objs:
            if o["motion"] != "still":
                o["motion"] = direction
            if (
                scene in ("bounce", "pendulum", "collision", "inclined_plane", "projectile")
                and o["start"] != "centre"
            ):
                o["start"] = other  # things start on the side they move away from
    if scene == "camera_orbit" and re.search(r"counter|anti", text):
        facts["camera"] = "counterclockwise"
    return facts


@dataclass
class Upsampler:
    """Short prompt -> long caption (see the module docstring)."""

    lm: str = ""
    """A local Hugging Face causal-LM directory; "" uses the grammar rules (default, deterministic)."""
    max_new_tokens: int = 96
    """LM only: the longest answer."""

    def __post_init__(self):
        self._model = None

    def __call__(self, prompt: str) -> str:
        if not prompt or not prompt.strip():
            raise ConfigError(
                "empty prompt: give a sentence to upsample, e.g. 'a red ball bounces to the left'"
            )
        if self.lm:
            answer = self._lm_upsample(prompt)
            if answer:
                return answer
        facts = parse_prompt(prompt)
        return prompt if facts is None else render_caption(facts)["long"]

    def _lm_upsample(self, prompt: str) -> str:
        from pathlib import Path

        if not Path(self.lm, "config.json").is_file():
            raise ConfigError(f"--upsampler-lm {self.lm} is not a local Hugging Face model directory")
        from transformers import AutoModelForCausalLM, AutoTokenizer

        if self._model is None:
            self._tok = AutoTokenizer.from_pretrained(self.lm, local_files_only=True)
            self._model = AutoModelForCausalLM.from_pretrained(self.lm, local_files_only=True).eval()
        shots = [
            ("a red ball hits a blue ball", DEFAULTS["collision"] | {"scene": "collision"}),
            ("dominoes fall to the right", DEFAULTS["dominoes"] | {"scene": "dominoes"}),
        ]
        context = "".join(f"Short: {s}\nLong: {render_caption(f)['long']}\n\n" for s, f in shots)
        ids = self._tok(context + f"Short: {prompt}\nLong:", return_tensors="pt")
        out = self._model.generate(**ids, max_new_tokens=self.max_new_tokens, do_sample=False)
        text = self._tok.decode(out[0, ids["input_ids"].shape[1] :], skip_special_tokens=True)
        return text.split("\n")[0].strip()


def upsample(prompt: str, lm: str = "") -> str:
    """``Upsampler(lm)(prompt)``."""
    return Upsampler(lm)(prompt)


__all__ = ["DEFAULTS", "SCENE_WORDS", "Upsampler", "parse_prompt", "upsample"]
