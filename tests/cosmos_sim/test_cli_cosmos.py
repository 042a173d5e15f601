"""``python -m cosmos_sim.cli.cosmos``: a bundle from a store, Video2World from the command line with a safety
checker named MODULE:CALLABLE, and user errors as one line with exit code 2."""

import textwrap

import gymnasium as gym
import numpy as np
import pytest

pytest.importorskip("diffusers")

import cosmos_sim  # noqa: E402, F401  (registers the WFM env)
from cosmos_sim.cli.cosmos import main  # noqa: E402
from cosmos_sim.data.generate import record_noisy_expert  # noqa: E402
from cosmos_sim.eval.physics_io import read_frames, write_frames  # noqa: E402
from cosmos_sim.world_models.cosmos_tiny import tiny_cosmos_checkpoint  # noqa: E402


@pytest.fixture(scope="module")
def pipe(tmp_path_factory):
    return tiny_cosmos_checkpoint(tmp_path_factory.mktemp("cli_cosmos") / "pipe", pipeline=True)


def test_bundle_makes_an_env_from_a_store(pipe, tmp_path):
    record_noisy_expert(str(tmp_path / "s.zarr"), episodes=1, seed=0, max_steps=4)
    args = [
        "bundle",
        "--checkpoint",
        str(pipe),
        "--data",
        str(tmp_path / "s.zarr"),
        "--out",
        str(tmp_path / "b"),
    ]
    assert main([*args, "--context-frames", "2", "--sampler-steps", "2"]) == 0
    env = gym.make("cosmos_sim/WFM-v0", checkpoint=str(tmp_path / "b"), device="cpu")
    obs, _ = env.reset(seed=0)
    assert env.step(env.action_space.sample())[0].shape == obs.shape == (64, 64, 3)
    env.close()


def test_user_errors_are_one_line_with_exit_code_2(tmp_path, capsys):
    args = [
        "bundle",
        "--checkpoint",
        str(tmp_path / "none"),
        "--data",
        "x.zarr",
        "--out",
        str(tmp_path / "b"),
    ]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert (
        err.startswith("python -m cosmos_sim.cli.cosmos bundle: error:")
        and len(err.strip().splitlines()) == 1
    )


def test_video2world_runs_with_a_checker_named_on_the_command_line(pipe, tmp_path, monkeypatch, capsys):
    (tmp_path / "my_guard.py").write_text(
        textwrap.dedent(
            """
            SEEN = []

            class Guard:
                def check_text_safety(self, prompt):
                    SEEN.append(prompt)
                    return "knife" not in prompt

                def check_video_safety(self, frames):
                    return frames
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    write_frames(np.zeros((1, 32, 32, 3), np.uint8), tmp_path / "ctx", mp4=False)
    common = ["video2world", "--checkpoint", str(pipe), "--safety-checker", "my_guard:Guard", "--input"]
    small = ["--height", "32", "--width", "32", "--num-frames", "5", "--steps", "1", "--guidance-scale", "1"]
    out = tmp_path / "v.mp4"
    assert main([*common, str(tmp_path / "ctx"), "--out", str(out), "--prompt", "a ball", *small]) == 0
    assert read_frames(out).shape == (5, 32, 32, 3)
    import my_guard

    assert my_guard.SEEN == ["a ball"]
    assert main([*common, str(tmp_path / "ctx"), "--out", str(out), "--prompt", "a knife", *small]) == 2
    assert "blocked the prompt 'a knife'" in capsys.readouterr().err
    assert main([*common, str(tmp_path / "ctx"), "--prompt", "a ball", *small]) == 2  # no --out


def test_video2world_defaults_to_the_project_guardrail(pipe, tmp_path, capsys):
    from cosmos_sim.guardrail.watermark import detect_video

    write_frames(np.full((1, 64, 64, 3), 90, np.uint8), tmp_path / "ctx", mp4=False)
    small = ["--height", "64", "--width", "64", "--num-frames", "5", "--steps", "1", "--guidance-scale", "1"]
    common = ["video2world", "--checkpoint", str(pipe), "--input", str(tmp_path / "ctx"), *small]
    assert main([*common, "--out", str(tmp_path / "bad.mp4"), "--prompt", "a man with a gun"]) == 2
    assert "blocked the prompt" in capsys.readouterr().err and not (tmp_path / "bad.mp4").exists()
    out = tmp_path / "png"
    assert main([*common, "--out", str(out), "--prompt", "a red ball rolls"]) == 0
    frames = read_frames(out)
    assert frames.shape == (5, 64, 64, 3)
    assert detect_video(frames).detected  # the guardrail watermarked what it wrote
