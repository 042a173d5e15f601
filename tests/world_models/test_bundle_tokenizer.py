"""A world-model bundle finds its tokenizer wherever it is copied: its own path, its own ``tokenizer/``, or the
shipped tokenizer with the SHA in its config; otherwise a clear error naming that SHA. Shipped bundles roll
out bit-identically from a copy."""

import dataclasses
import hashlib
import shutil

import gymnasium as gym
import numpy as np
import pytest

import cosmos_sim  # noqa: F401  (registers the ids)
from cosmos_sim.assets import ASSETS_DIR
from cosmos_sim.errors import CheckpointError
from cosmos_sim.world_models.wfm import WorldModel, file_sha, tiny_world_model


def _rollout_hash(checkpoint, steps: int = 4) -> str:
    """SHA-256 of a seeded rollout's frames and rewards in the manipulation WFM env (CPU)."""
    env = gym.make("cosmos_sim/Manipulation-WFM-v0", checkpoint=str(checkpoint), device="cpu")
    obs, _ = env.reset(seed=100000)
    h = hashlib.sha256(obs.tobytes())
    for a in np.random.default_rng(0).uniform(-1, 1, (steps, 7)).astype(np.float32):
        obs, reward, *_ = env.step(a)
        h.update(obs.tobytes() + np.float64(reward).tobytes())
    return h.hexdigest()


def test_a_shipped_bundle_copied_elsewhere_finds_its_tokenizer_by_sha_and_rolls_out_bit_identically(tmp_path):
    shipped = ASSETS_DIR / "wfm" / "manip-dit-nano"
    copy = tmp_path / "elsewhere" / "manip-dit-nano"
    shutil.copytree(shipped, copy)  # its relative tokenizer_dir (../../tokenizers/...) leads nowhere now
    wm = WorldModel.from_pretrained(copy, device="cpu")
    assert wm.config.tokenizer_dir and wm.tokenizer_source == ASSETS_DIR / "tokenizers" / "cv4x8x8-nano"
    assert _rollout_hash(copy) == _rollout_hash("manip-dit-nano")


def test_save_pretrained_of_a_loaded_bundle_carries_its_tokenizer_byte_for_byte(tmp_path):
    wm = WorldModel.from_pretrained("manip-dit-nano", device="cpu")
    out = wm.save_pretrained(tmp_path / "self-contained")
    copied = out / "tokenizer" / "model.safetensors"
    assert copied.read_bytes() == (wm.tokenizer_source / "model.safetensors").read_bytes()
    moved = tmp_path / "moved"
    shutil.move(out, moved)
    back = WorldModel.from_pretrained(moved, device="cpu")
    assert back.config.tokenizer_dir == "" and back.tokenizer_source == moved / "tokenizer"  # its own copy
    assert _rollout_hash(moved) == _rollout_hash("manip-dit-nano")


def _referencing_bundle(tmp_path):
    """A tiny bundle that points at a tokenizer beside it (as shipped bundles do), its SHA in the config."""
    wm = tiny_world_model()
    tok = tmp_path / "tokenizers" / "tiny"
    wm.tokenizer.save_pretrained(tok, dtype=None)
    wm.config = dataclasses.replace(wm.config, tokenizer_sha=file_sha(tok / "model.safetensors"))
    return wm, wm.save_pretrained(tmp_path / "wfm" / "tiny", tokenizer_ref="../../tokenizers/tiny")


def test_a_copied_bundle_whose_tokenizer_is_nowhere_is_an_error_naming_its_sha(tmp_path):
    wm, bundle = _referencing_bundle(tmp_path)
    copy = shutil.copytree(bundle, tmp_path / "copy")
    sha = wm.config.tokenizer_sha
    with pytest.raises(
        CheckpointError, match=rf"needs the tokenizer CV4x8x8 with sha {sha}: it is not at"
    ) as e:
        WorldModel.from_pretrained(copy, device="cpu")
    assert "shipped tokenizers" in str(e.value) and str(copy / "tokenizer") in str(e.value)
    # The fix the message gives: the tokenizer's directory copied into the bundle.
    shutil.copytree(tmp_path / "tokenizers" / "tiny", copy / "tokenizer")
    assert WorldModel.from_pretrained(copy, device="cpu").tokenizer_source == copy / "tokenizer"


def test_another_tokenizer_at_the_bundles_own_path_is_refused_not_replaced(tmp_path):
    wm, bundle = _referencing_bundle(tmp_path)
    other = tiny_world_model(seed=1).tokenizer
    other.save_pretrained(tmp_path / "tokenizers" / "tiny", dtype=None)  # overwrite with other weights
    with pytest.raises(
        CheckpointError, match=rf"is not the tokenizer .* \(sha {wm.config.tokenizer_sha} expected"
    ):
        WorldModel.from_pretrained(bundle, device="cpu")
