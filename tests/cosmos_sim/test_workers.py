"""The one worker pool: workers die with their parent and run one torch thread each."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from cosmos_sim.workers import process_pool

SCRIPT = """
import sys
from cosmos_sim.data.generate import GenerateConfig, generate
if __name__ == "__main__":
    generate(GenerateConfig(env_id="cosmos_sim/Manipulation-GT-v0", episodes=400, out=sys.argv[1], workers=2,
                            resolution=(32, 32), progress=False))
"""


def _children(pid: int) -> set[int]:
    out = set()
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                if int((d / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    out.add(int(d.name))
            except (OSError, IndexError, ValueError):
                pass
    return out


def _alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_workers_die_when_the_parent_is_killed(tmp_path):
    script = tmp_path / "gen.py"
    script.write_text(SCRIPT)
    parent = subprocess.Popen([sys.executable, str(script), str(tmp_path / "s.zarr")])
    try:
        deadline, workers = time.time() + 60, set()
        while time.time() < deadline and len(workers) < 2:  # the pool's two workers (+ the resource tracker)
            time.sleep(0.5)
            workers = _children(parent.pid)
        assert len(workers) >= 2, "the generate run never started its workers"
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        deadline = time.time() + 20
        while time.time() < deadline and any(_alive(w) for w in workers):
            time.sleep(0.2)
        assert not any(_alive(w) for w in workers), "workers outlived their killed parent"
    finally:
        for w in _children(parent.pid) | {parent.pid}:
            try:
                os.kill(w, signal.SIGKILL)
            except OSError:
                pass


def _threads_in_worker() -> tuple[str, int]:
    import torch

    return os.environ.get("OMP_NUM_THREADS", ""), torch.get_num_threads()


def test_workers_run_one_torch_thread(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)  # what the worker gets is the pool's doing
    with process_pool(1) as pool:
        assert pool.submit(_threads_in_worker).result() == ("1", 1)
