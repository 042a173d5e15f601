"""``cosmos-sim generate-video`` and ``cosmos_sim.text.generate_video``: guarded Text2World / Video2World."""

import json
from dataclasses import replace

import numpy as np
import pytest
from PIL import Image

from cosmos_sim.cli import main


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    from cosmos_sim.world_models.text_encoder import TextEncoderConfig, train_text_encoder
    from cosmos_sim.world_models.wfm import WorldModel, tiny_world_model

    out = tmp_path_factory.mktemp("tw") / "model"
    wm = tiny_world_model("text-diffusion", context_frames=2)
    wm = WorldModel(
        replace(wm.config, dynamics=replace(wm.config.dynamics, first_frame_steps=1)), wm.tokenizer
    )
    wm.save_pretrained(out)
    enc = train_text_encoder(
        ["a red ball bounces", "a blue block"], TextEncoderConfig(steps=1, max_length=8), log=lambda m: None
    )
    enc.save_pretrained(out / "text_encoder")
    return out


def test_text2world_writes_a_guarded_video_with_its_prompt(bundle, tmp_path, capsys):
    out = tmp_path / "t2w.gif"
    rc = main(
        [
            "generate-video",
            "--prompt",
            "a red ball bounces to the left",
            "--upsample",
            "--model",
            str(bundle),
            "--num-frames",
            "2",
            "--out",
            str(out),
        ]
    )
    assert rc == 0 and out.is_file()
    meta = json.loads((tmp_path / "t2w.gif.json").read_text())
    assert meta["prompt"] == "a red ball bounces to the left" and meta["mode"] == "text2world"
    assert meta["upsampled_prompt"].startswith("A red ball is dropped on the right")
    assert "guardrail" in json.dumps(meta)
    assert "prompt used: A red ball" in capsys.readouterr().out


def test_video2world_from_an_image_and_a_blocked_prompt(bundle, tmp_path, capsys):
    Image.fromarray(np.full((32, 32, 3), 128, np.uint8)).save(tmp_path / "f.png")  # resized to 64x64
    rc = main(
        [
            "generate-video",
            "--prompt",
            "a blue block",
            "--frames",
            str(tmp_path / "f.png"),
            "--model",
            str(bundle),
            "--num-frames",
            "2",
            "--out",
            str(tmp_path / "v.gif"),
        ]
    )
    assert rc == 0 and json.loads((tmp_path / "v.gif.json").read_text())["mode"] == "video2world"
    rc = main(
        [
            "generate-video",
            "--prompt",
            "a man aiming a g-u-n at a crowd",
            "--model",
            str(bundle),
            "--out",
            str(tmp_path / "x.gif"),
        ]
    )
    assert rc == 2 and "guardrail blocked the prompt" in capsys.readouterr().err
    assert not (tmp_path / "x.gif").exists()
