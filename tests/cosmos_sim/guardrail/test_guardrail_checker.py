"""The guardrail as one object: the diffusers safety-checker interface, the runners' reports, plug-ins from
local paths, negative prompts, and the files ``write_guarded_video`` writes."""

import json

import numpy as np
import pytest
from skimage import data

from cosmos_sim.errors import ConfigError
from cosmos_sim.guardrail import (
    DISABLED,
    CheckResult,
    GuardrailConfig,
    SafetyChecker,
    TextRunner,
    provenance,
    read_metadata,
    write_guarded_video,
)
from cosmos_sim.guardrail.plugins import LMGuardCheck, load_function, parse_verdict
from cosmos_sim.guardrail.watermark import detect_video

OFFLINE = GuardrailConfig(wordnet="off", face_model="lbp")  # the fast settings every machine has


def test_the_safety_checker_has_the_interface_diffusers_calls():
    checker = SafetyChecker(OFFLINE)
    assert checker.to("cuda") is checker and checker.to("cpu", dtype=None) is checker
    assert checker.check_text_safety("A robot arm stacks three cubes") is True
    assert checker.check_text_safety("a man aiming a g-u-n at a crowd") is False
    assert checker.last_report.reasons() == ["blocklist: blocked: gun (weapons) as 'g-u-n' (spacing)"]
    video = np.stack([data.astronaut()] * 2)
    out = checker.check_video_safety(video)
    assert out.shape == video.shape and out.dtype == np.uint8 and not np.array_equal(out, video)
    assert [r.name for r in checker.last_report.results] == ["faces", "watermark"]
    assert detect_video(out).fraction == 1.0
    single = checker.check_video_safety(data.rocket().astype(np.float32) / 255)  # one float image
    assert single.shape == (1, *data.rocket().shape) and detect_video(single).detected


def test_negative_prompts_are_reported_not_blocked_unless_asked():
    checker = SafetyChecker(OFFLINE)
    r = checker.check_text("gore, blood, colour bleeding, blurry", negative=True)
    assert r.safe and r.results[0].fired and not r.results[0].blocks
    assert r.reasons()[0].startswith("blocklist: negative prompt, not blocked: blocked: gore")
    strict = SafetyChecker(GuardrailConfig(wordnet="off", block_negative=True))
    assert not strict.check_text("gore, blurry", negative=True).safe


def test_the_text_runner_stops_at_the_first_check_that_blocks():
    calls = []

    class Check:
        def __init__(self, name, blocks):
            self.name, self.blocks = name, blocks

        def check(self, text):
            calls.append(self.name)
            return CheckResult(self.name, self.blocks, blocks=self.blocks, reason="x" if self.blocks else "")

    report = TextRunner([Check("a", False), Check("b", True), Check("c", True)]).run("hello")
    assert not report.safe and calls == ["a", "b"] and [r.name for r in report.results] == ["a", "b"]
    with pytest.raises(ConfigError, match="must be a str"):
        TextRunner([]).run(b"bytes")


def test_a_content_classifier_from_a_local_file_can_block_a_video(tmp_path):
    (tmp_path / "clf.py").write_text(
        "import numpy as np\ndef score(frames):\n    return (frames.mean(axis=(1, 2, 3)) > 200).astype(float)\n"
    )
    checker = SafetyChecker(GuardrailConfig(classifier=f"{tmp_path / 'clf.py'}:score", face_model="lbp"))
    dark, bright = np.zeros((3, 32, 32, 3), np.uint8), np.full((3, 32, 32, 3), 255, np.uint8)
    assert checker.check_video_safety(dark) is not None
    assert checker.check_video_safety(np.concatenate([dark, bright])) is None
    r = checker.last_report
    assert (
        not r.safe and r.results[-1].name == "content" and "3 of 6 frames (first: 3)" in r.results[-1].reason
    )
    with pytest.raises(ConfigError, match="write_guarded_video|blocked"):
        write_guarded_video(tmp_path / "x.mp4", bright, 10, {}, checker)
    assert not (tmp_path / "x.mp4").exists()


def test_a_text_guard_function_from_a_local_file(tmp_path):
    (tmp_path / "guard.py").write_text(
        "def check(text):\n    return 'unsafe\\nS9' if 'forbidden' in text else 'safe'\n"
    )
    checker = SafetyChecker(GuardrailConfig(wordnet="off", lm_guard=f"{tmp_path / 'guard.py'}:check"))
    assert checker.check_text_safety("a calm lake")
    assert not checker.check_text_safety("the forbidden scene")
    assert checker.last_report.reasons() == ["lm-guard: unsafe (S9)"]


def test_verdicts_and_plug_in_names():
    assert parse_verdict(True) == (True, "") and parse_verdict((False, "why")) == (False, "why")
    assert parse_verdict("safe")[0] and not parse_verdict("unsafe\nS1,S10")[0]
    safe, reason = parse_verdict("I cannot tell")
    assert not safe and "neither" in reason  # an unreadable guard is no pass
    with pytest.raises(ConfigError, match="module:function"):
        load_function("no_colon")
    with pytest.raises(ConfigError, match="cannot be imported"):
        load_function("no_such_module_here:f")


def _tiny_lm(path, answer: str):
    """A 1-layer GPT-2 and word-level tokenizer that always answers ``answer``, saved to ``path``."""
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    vocab = {w: i for i, w in enumerate(["<unk>", "<eos>", "safe", "unsafe", "S1"])}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token="<unk>", eos_token="<eos>", pad_token="<eos>"
    )
    cfg = GPT2Config(
        vocab_size=len(vocab), n_positions=512, n_embd=8, n_layer=1, n_head=2, tie_word_embeddings=False
    )
    model = GPT2LMHeadModel(cfg)
    with torch.no_grad():  # the final norm outputs its bias (ones): logits are the lm_head rows' sums
        model.transformer.ln_f.weight.zero_()
        model.transformer.ln_f.bias.fill_(1.0)
        model.lm_head.weight.zero_()
        model.lm_head.weight[vocab[answer]] = 1.0
    model.save_pretrained(path)
    fast.save_pretrained(path)


@pytest.mark.parametrize("answer, safe", [("unsafe", False), ("safe", True)])
def test_a_local_transformers_guard_model_runs_offline(tmp_path, answer, safe):
    _tiny_lm(tmp_path / "guard", answer)
    check = LMGuardCheck(str(tmp_path / "guard"), max_new_tokens=3)
    r = check.check("a robot arm stacks cubes")
    assert r.blocks is not safe and r.details["answer"].split()[0] == answer


def test_a_guard_directory_without_a_model_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="no config.json"):
        LMGuardCheck(str(tmp_path))


@pytest.mark.parametrize("suffix", [".mp4", ".gif", ".png"])
def test_written_videos_carry_provenance_in_the_file_and_a_sidecar(tmp_path, suffix):
    video = np.stack([data.astronaut()[::2, ::2]] * 3)
    meta = provenance(None, prompt="an astronaut", seed=7, scene="test")
    (path,) = write_guarded_video(tmp_path / f"v{suffix}", video, 10, meta, SafetyChecker(OFFLINE))
    side = json.loads((tmp_path / f"v{suffix}.json").read_text())
    assert side["prompt"] == "an astronaut" and side["seed"] == 7 and side["guardrail"]["enabled"]
    assert "in 3 of 3 frames" in side["guardrail_fired"]["faces"] and "watermark" in side["guardrail_fired"]
    (tmp_path / f"v{suffix}.json").unlink()  # the file's own tags say the same
    assert read_metadata(path) == side


def test_the_opt_out_writes_the_frames_as_they_are_and_says_so(tmp_path, caplog):
    video = np.stack([data.astronaut()[::2, ::2]] * 2)
    with caplog.at_level("WARNING"):
        (path,) = write_guarded_video(tmp_path / "v.png", video, 10, provenance(seed=1), None)
    assert read_metadata(path)["guardrail"] == DISABLED and "no watermark" in caplog.text
    import imageio.v3 as iio3

    assert np.array_equal(iio3.imread(path), video[0])


def test_provenance_records_the_weights_sha(tmp_path):
    (tmp_path / "model.safetensors").write_bytes(b"weights")
    meta = provenance(tmp_path, prompt=None, seed=3)
    assert meta["model_sha"] == "9a129038d9a00aed" and meta["seed"] == 3  # sha256(b"weights")[:16]
    with pytest.raises(ConfigError, match="no weights"):
        provenance(tmp_path / "missing")


def test_config_refuses_missing_list_files(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        GuardrailConfig(blocklist=(str(tmp_path / "nope.txt"),))
