"""The offline prompt upsampler: short prompts -> long captions of the training grammar."""

import pytest

from cosmos_sim.errors import ConfigError
from cosmos_sim.text.upsampler import Upsampler, parse_prompt, upsample


def test_a_short_caption_upsamples_to_its_long_one():
    short = "A purple ball hits a green ball."
    assert upsample(short) == (
        "A purple ball starts on the left and rolls to the right across the grey floor. "
        "It hits a green ball resting in the centre, which is knocked to the right."
    )


def test_direction_colours_and_mention_order():
    facts = parse_prompt("a yellow ball on a blue rod swings to the left")
    bob = next(o for o in facts["objects"] if o["name"] == "bob")
    rod = next(o for o in facts["objects"] if o["name"] == "rod")
    assert (bob["colour"], rod["colour"], bob["motion"], bob["start"]) == ("yellow", "blue", "left", "right")
    assert "released on the right and swings to the left" in upsample(
        "a yellow ball on a blue rod swings to the left"
    )
    dominoes = parse_prompt("green dominoes fall")
    colours = [o["colour"] for o in dominoes["objects"]]
    assert colours[0] == "green" and len(set(colours)) == 5  # the rest: distinct unused colours


def test_unknown_prompts_pass_unchanged_and_empty_ones_are_refused():
    assert upsample("a quiet afternoon") == "a quiet afternoon"
    assert upsample("a ball") == "a ball"
    with pytest.raises(ConfigError, match="empty prompt"):
        upsample("  ")


def test_the_lm_hook_needs_a_local_directory(tmp_path):
    with pytest.raises(ConfigError, match="not a local Hugging Face model directory"):
        Upsampler(lm=str(tmp_path))("a red ball bounces")
