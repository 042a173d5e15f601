import json

import pytest
import torch

from cosmos_sim.world_models.checkpoint import CheckpointError, load_checkpoint, save_checkpoint


def _save(tmp_path, **kw):
    state = {"w": torch.arange(6, dtype=torch.float32).view(2, 3), "n": torch.tensor([3], dtype=torch.int64)}
    return save_checkpoint(tmp_path / "ck", "tokenizer", {"a": 1}, state, **kw), state


def test_round_trip_with_dtype_cast(tmp_path):
    d, state = _save(tmp_path, dtype=torch.bfloat16, extra={"step": 7})
    config, loaded, extra = load_checkpoint(d, "tokenizer")
    assert config == {"a": 1} and extra == {"step": 7}
    assert loaded["w"].dtype == torch.bfloat16 and torch.equal(loaded["w"].float(), state["w"])
    assert loaded["n"].dtype == torch.int64  # integers are never cast
    assert not list(d.glob("*.tmp"))


def test_weights_are_as_readable_as_the_config(tmp_path):
    # safetensors creates private files; a saved bundle must be readable as the umask allows, like its config.
    d, _ = _save(tmp_path)
    mode = (d / "config.json").stat().st_mode & 0o777
    assert mode & 0o044  # the test's umask lets group/others read
    assert (d / "model.safetensors").stat().st_mode & 0o777 == mode


def test_wrong_kind_names_the_file(tmp_path):
    d, _ = _save(tmp_path)
    with pytest.raises(CheckpointError, match=r"config\.json is a 'tokenizer' checkpoint, not a 'wfm' one"):
        load_checkpoint(d, "wfm")


def test_missing_truncated_and_corrupt_files_name_the_file(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "nope", "tokenizer")
    d, _ = _save(tmp_path)
    w = d / "model.safetensors"
    data = w.read_bytes()
    w.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match=r"model\.safetensors is truncated or corrupt"):
        load_checkpoint(d, "tokenizer")
    w.write_bytes(b"\x00" * 5)
    with pytest.raises(CheckpointError, match=r"model\.safetensors is truncated or corrupt"):
        load_checkpoint(d, "tokenizer")
    (d / "config.json").write_text('{"kind": "tok')
    with pytest.raises(CheckpointError, match=r"config\.json is not valid JSON"):
        load_checkpoint(d, "tokenizer")
    (d / "config.json").write_text(json.dumps({"hello": 1}))
    with pytest.raises(CheckpointError, match=r"config\.json lacks"):
        load_checkpoint(d, "tokenizer")
    w.unlink()
    with pytest.raises(CheckpointError, match=r"model\.safetensors is missing"):
        load_checkpoint(d, "tokenizer")
