"""One training run per output directory: ``OUT/.lock`` (an flock) refuses a second train-tokenizer or
train-wfm run into the same ``--out`` at once, naming the directory and the pid that holds it; a run that
ends, fails or is killed leaves the directory free."""

import os
import re
import signal
import subprocess
import sys

import numpy as np
import pytest

from cosmos_sim.cli import main
from cosmos_sim.data.store import TrajectoryStore
from cosmos_sim.errors import ConfigError
from cosmos_sim.train import tokenizer as train_tokenizer
from cosmos_sim.train import wfm as train_wfm
from cosmos_sim.train.common import LOCK_FILE, OutDirLock
from cosmos_sim.world_models.wfm import tiny_world_model

# Another process that takes the lock and holds it until it is killed.
HOLDER = (
    "import sys, time\n"
    "from cosmos_sim.train.common import OutDirLock\n"
    "lock = OutDirLock(sys.argv[1])\n"
    "print('locked', flush=True)\n"
    "time.sleep(600)\n"
)


@pytest.fixture
def held(tmp_path):
    """(OUT, the process holding OUT's lock)."""
    out = tmp_path / "run"
    out.mkdir()
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(out)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "locked"
        yield out, proc
    finally:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="module")
def wfm_inputs(tmp_path_factory):
    """A store and a tokenizer that get train-wfm as far as its lock."""
    d = tmp_path_factory.mktemp("lockwfm")
    layout = ["dx", "dy", "dz", "droll", "dpitch", "dyaw", "gripper"]
    with TrajectoryStore.create(d / "s.zarr", attrs={"action_layout": layout}) as s:
        s.add_episode(
            {"rgb": np.zeros((4, 64, 64, 3), np.uint8), "action": np.zeros((4, 7), np.float32)}, seed=0
        )
    tiny_world_model("diffusion").tokenizer.save_pretrained(d / "tok", dtype=None)
    return str(d / "s.zarr"), str(d / "tok")


def _tiny_tokenizer_args(out, data, **kw):
    tiny = dict(
        clip_frames=5, steps=1, eval_every=1, batch_size=1, frame_channels=8, channels=16, res_blocks=1
    )
    return train_tokenizer.Args(data=(data,), out=str(out), attention=False, progress=False, **tiny | kw)


def test_a_second_tokenizer_run_is_refused_at_once_naming_the_out_and_the_pid(held, capsys):
    out, proc = held
    # Refused before it reads any data (the store does not even exist).
    expected = rf"{re.escape(str(out))} is in use by another training run \(pid {proc.pid}, "
    with pytest.raises(ConfigError, match=expected):
        train_tokenizer.train(train_tokenizer.Args(data=("no-such.zarr",), out=str(out), progress=False))
    rc = main(["train-tokenizer", "--data", "no-such.zarr", "--out", str(out), "--no-progress"])
    assert rc == 2
    assert f"in use by another training run (pid {proc.pid}" in capsys.readouterr().err
    assert sorted(os.listdir(out)) == [LOCK_FILE]  # nothing of the refused run was written


def test_a_second_wfm_run_is_refused_naming_the_pid(held, wfm_inputs):
    out, proc = held
    store, tok = wfm_inputs
    args = train_wfm.Args(data=(store,), tokenizer=tok, out=str(out), progress=False)
    with pytest.raises(ConfigError, match=rf"in use by another training run \(pid {proc.pid}"):
        train_wfm.train(args)
    assert sorted(os.listdir(out)) == [LOCK_FILE]


def test_a_killed_run_leaves_no_stale_lock(held):
    out, proc = held
    with pytest.raises(ConfigError, match=str(proc.pid)):
        OutDirLock(out)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    lock = OutDirLock(out)  # the kernel dropped the dead run's lock; the file and its old pid don't matter
    assert (out / LOCK_FILE).read_text() == f"{os.getpid()}\n"
    lock.release()
    assert not (out / LOCK_FILE).exists()  # a released lock leaves only the run's outputs


def test_the_lock_is_held_during_a_run_and_free_after_it_ends_or_fails(tmp_path, monkeypatch):
    data = str(tmp_path / "train.zarr")
    with TrajectoryStore.create(data) as s:
        for e in range(2):
            s.add_episode(
                {"rgb": np.random.default_rng(e).integers(0, 255, (6, 32, 32, 3), np.uint8)}, seed=e
            )
    out = tmp_path / "run"
    during = []
    load_clips = train_tokenizer.load_clips

    def spying_load_clips(*a, **k):  # called by train() after it took the lock
        with pytest.raises(ConfigError, match=f"pid {os.getpid()}"):
            OutDirLock(out)  # held, even against another attempt from this same process
        during.append(True)
        return load_clips(*a, **k)

    monkeypatch.setattr(train_tokenizer, "load_clips", spying_load_clips)
    train_tokenizer.train(_tiny_tokenizer_args(out, data))
    assert during == [True]
    assert not (out / LOCK_FILE).exists()  # released (and its file deleted) once the run returned
    OutDirLock(out).release()
    # A run that fails after taking the lock (resuming with another architecture) frees it as well, even
    # while the error's traceback, which holds train()'s frame and locals, is alive.
    with pytest.raises(ConfigError, match="use another --out") as failed:
        train_tokenizer.train(_tiny_tokenizer_args(out, data, channels=32))
    assert failed.value.__traceback__ is not None
    OutDirLock(out).release()
    assert train_tokenizer.train(_tiny_tokenizer_args(out, data, steps=2))["step"] == 2  # and resumes
