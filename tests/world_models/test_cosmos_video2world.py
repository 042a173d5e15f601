"""Video2World through diffusers' Cosmos2VideoToWorldPipeline on a tiny random pipeline built here (a one-layer
T5 and a word-level tokenizer included): text prompts, precomputed embeddings, and the safety checker, which
is required, sees every prompt once and every video, and can block or post-process them."""

import shutil

import numpy as np
import pytest
import torch

pytest.importorskip("diffusers")

from cosmos_sim.errors import ConfigError  # noqa: E402
from cosmos_sim.world_models.cosmos_tiny import TEXT_DIM, tiny_cosmos_checkpoint  # noqa: E402
from cosmos_sim.world_models.cosmos_video2world import (  # noqa: E402
    GuardrailBlocked,
    Video2World,
    Video2WorldConfig,
)

SMALL = Video2WorldConfig(
    height=64, width=64, num_frames=9, steps=2, guidance_scale=1.0, max_sequence_length=8
)


class Checker:
    """A duck-typed safety checker: refuses prompts with a blocked word, records what it saw."""

    def __init__(self, video=lambda frames: frames):
        self.prompts, self.videos, self.video = [], [], video

    def check_text_safety(self, prompt: str) -> bool:
        self.prompts.append(prompt)
        return "knife" not in prompt

    def check_video_safety(self, frames: np.ndarray):
        self.videos.append(frames.copy())
        return self.video(frames)


@pytest.fixture(scope="module")
def pipe_dir(tmp_path_factory):
    return tiny_cosmos_checkpoint(tmp_path_factory.mktemp("v2w") / "pipe", pipeline=True)


@pytest.fixture(scope="module")
def frames():
    return np.random.default_rng(0).integers(0, 255, (5, 48, 48, 3), dtype=np.uint8)


def test_a_text_prompt_makes_a_checked_reproducible_video(pipe_dir, frames):
    checker = Checker()
    v2w = Video2World(pipe_dir, checker, device="cpu", config=SMALL)
    video = v2w(frames, prompt="a ball falls off the table")
    assert video.shape == (9, 64, 64, 3) and video.dtype == np.uint8
    assert checker.prompts == ["a ball falls off the table"]  # checked once, before anything ran
    assert len(checker.videos) == 1 and np.array_equal(checker.videos[0], video)
    assert np.array_equal(v2w(frames, prompt="a ball falls off the table"), video)  # seeded noise
    assert not np.array_equal(v2w(frames, prompt="a cube slides"), video)  # the text conditions it
    small = v2w(frames[0], prompt="a ball falls", output_size=(48, 48))  # one image; back to its size
    assert small.shape == (9, 48, 48, 3)


def test_precomputed_embeddings_give_the_same_video_as_the_text(pipe_dir, frames):
    checker = Checker()
    v2w = Video2World(pipe_dir, checker, device="cpu", config=SMALL)
    with torch.no_grad():  # as inference encodes it (with autograd on, T5's kernels differ in the last bit)
        emb, _ = v2w.pipe.encode_prompt(
            "a ball falls", do_classifier_free_guidance=False, max_sequence_length=8
        )
    assert emb.shape == (1, 8, TEXT_DIM)
    assert np.array_equal(v2w(frames, prompt_embeds=emb[0]), v2w(frames, prompt="a ball falls"))
    checker.prompts.clear()
    v2w(frames, prompt="a ball falls", prompt_embeds=emb)  # a caption beside its embedding is still checked
    assert checker.prompts == ["a ball falls"]


def test_unsafe_prompts_are_blocked_before_any_work(pipe_dir, frames):
    checker = Checker()
    v2w = Video2World(pipe_dir, checker, device="cpu", config=SMALL)
    with pytest.raises(GuardrailBlocked, match="blocked the prompt 'a robot holds a knife'"):
        v2w(frames, prompt="a robot holds a knife")
    with pytest.raises(
        GuardrailBlocked, match="knife"
    ):  # the negative prompt too (diffusers never checks it)
        v2w(frames, prompt="a ball", negative_prompt="a knife")
    assert checker.videos == []


def test_the_video_check_can_post_process_or_block(pipe_dir, frames):
    darker = Video2World(pipe_dir, Checker(video=lambda f: f // 2), device="cpu", config=SMALL)
    plain = Video2World(pipe_dir, Checker(), device="cpu", config=SMALL)
    assert np.array_equal(darker(frames, prompt="a ball"), plain(frames, prompt="a ball") // 2)
    for verdict in (None, False):
        blocked = Video2World(pipe_dir, Checker(video=lambda f, v=verdict: v), device="cpu", config=SMALL)
        with pytest.raises(GuardrailBlocked, match="blocked the generated video"):
            blocked(frames, prompt="a ball")
    passed = Video2World(pipe_dir, Checker(video=lambda f: True), device="cpu", config=SMALL)
    assert np.array_equal(passed(frames, prompt="a ball"), plain(frames, prompt="a ball"))


def test_a_safety_checker_is_required_and_must_have_both_checks(pipe_dir):
    with pytest.raises(ConfigError, match="needs a safety checker"):
        Video2World(pipe_dir, None, device="cpu", config=SMALL)

    class TextOnly:
        def check_text_safety(self, prompt):
            return True

    with pytest.raises(ConfigError, match=r"lacks \['check_video_safety'\]"):
        Video2World(pipe_dir, TextOnly(), device="cpu", config=SMALL)


def test_without_a_text_encoder_prompts_come_as_embeddings(pipe_dir, frames, tmp_path):
    bare = tmp_path / "bare"
    shutil.copytree(pipe_dir, bare, ignore=shutil.ignore_patterns("text_encoder", "tokenizer"))
    checker = Checker()
    v2w = Video2World(bare, checker, device="cpu", config=SMALL)
    with pytest.raises(ConfigError, match="has no text_encoder/ and tokenizer/: pass prompt_embeds"):
        v2w(frames, prompt="a ball")
    emb = torch.randn(8, TEXT_DIM, generator=torch.Generator().manual_seed(0))
    assert v2w(frames, prompt_embeds=emb).shape == (9, 64, 64, 3) and checker.prompts == []
    v2w.config = Video2WorldConfig(**{**SMALL.__dict__, "guidance_scale": 3.0})
    with pytest.raises(ConfigError, match="needs a negative prompt: pass negative_prompt_embeds"):
        v2w(frames, prompt_embeds=emb)
    guided = v2w(frames, prompt_embeds=emb, negative_prompt_embeds=torch.zeros(8, TEXT_DIM))
    assert guided.shape == (9, 64, 64, 3)


def test_bad_settings_and_checkpoints_are_refused(tmp_path):
    with pytest.raises(ConfigError, match="num_frames must be 1 \\+ 4k"):
        Video2WorldConfig(num_frames=10)
    with pytest.raises(ConfigError, match="multiples of 16"):
        Video2WorldConfig(height=100)
    with pytest.raises(ValueError, match="no model_index.json"):
        Video2World(tmp_path, Checker(), device="cpu")
