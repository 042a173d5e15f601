"""Test set-up shared by every test: headless rendering before anything imports MuJoCo, one torch thread."""

import os

os.environ.setdefault("MUJOCO_GL", "egl")
os.environ.setdefault("PYOPENGL_PLATFORM", "egl")

import pytest  # noqa: E402
import torch  # noqa: E402


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """One torch thread: on a busy 2-core machine two threads spin against each other (10x slower)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="session")
def tiny_wfm(tmp_path_factory):
    """A tiny random diffusion world-model bundle of the manipulation scene that never predicts success (its
    episodes run to their time limit): the one fixture of the env, policy and dream tests."""
    from cosmos_sim.world_models.wfm import tiny_world_model

    path = tmp_path_factory.mktemp("wfm") / "tiny"
    wm = tiny_world_model("diffusion")
    with torch.no_grad():
        wm.head.mlp[-1].bias[1] = -20.0
    wm.save_pretrained(path, dtype=None)
    return str(path)
