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


@pytest.fixture(scope="session")
def tiny_state_estimator(tmp_path_factory):
    """A tiny random state estimator of the push/reach scene's ee xyz and goal xy (Perceived-v0 tests)."""
    from cosmos_sim.world_models.state_estimator import StateEstimator, StateEstimatorConfig

    torch.manual_seed(0)
    names = ("ee_x", "ee_y", "ee_z", "goal_x", "goal_y")
    est = StateEstimator(StateEstimatorConfig(names, (0.0,) * 5, (0.1,) * 5, channels=(4, 8), hidden=16))
    path = tmp_path_factory.mktemp("state_estimator") / "tiny"
    est.save_pretrained(path, dtype=None)
    return str(path)


@pytest.fixture(scope="session")
def torchrun():
    """``torchrun(args, timeout) -> log``: ``python -m torch.distributed.run --nproc_per_node 2 --standalone
    ARGS`` on CPU threads of one, its output; a rank that hangs kills the whole process group (a failure)."""
    import signal
    import subprocess
    import sys

    def run(args: list[str], timeout: int = 300) -> str:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--standalone", *args]
        env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "MUJOCO_GL": "egl"}
        env["PYOPENGL_PLATFORM"] = "egl"
        proc = subprocess.Popen(
            cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
        )
        try:
            log, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:  # a rank waiting on the other forever: end torchrun and both ranks
            os.killpg(proc.pid, signal.SIGKILL)
            log, _ = proc.communicate()
            raise AssertionError(f"torchrun did not finish in {timeout} s:\n" + log[-4000:]) from None
        assert proc.returncode == 0, log[-4000:]
        return log

    return run
