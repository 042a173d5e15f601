"""Does DAgger lift the push clone above BC? (issue 16, session 23; in the GT env, before any world model.)

The push clone of ``bench rl-loop`` (100 expert episodes, training seeds 5000.., through ``manip-state-nano``
with the hand as proprioception, the goal held, the block read every frame) is rolled out with its mean action on
100 new training-seed episodes a round; every state it visits is labelled with the scripted expert's action
(``env.unwrapped.expert_action()``), the labels joined to the demonstrations, and the clone retrained from scratch;
success on 256 validation seeds 100500.. . See README.md for the figures.

    python tools/probes/push_dagger/dagger_gt.py WORK ROUNDS EPISODES_PER_ROUND [all|xyz|obs]   # LAT_TOL=0.04 env var
    TEACHER=smooth python tools/probes/push_dagger/dagger_gt.py ...   # smooth_teacher.py instead of the expert

``xyz``: only the hand's translation is the expert's, the rotation and gripper entries the clone's own (the clone
does not observe the gripper's yaw, on which the expert's rotation depends). ``LAT_TOL``: the expert's sideways
tolerance before it lifts off and re-approaches (the package's expert: 0.02 m), changed for the labels only.
"""

import json
import sys
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch

torch.set_num_threads(1)
import inspect
import os

import cosmos_sim.envs  # noqa: F401
from cosmos_sim.envs import manipulation, push_task

# the labelling expert with another sideways tolerance (the package's expert is left as it is)
LAT_TOL = float(os.environ.get("LAT_TOL", "0.02"))
_ns = {**vars(push_task), "LAT_TOL": LAT_TOL}
exec(
    inspect.getsource(push_task.push_expert_target).replace("abs(lateral) < 0.02", "abs(lateral) < LAT_TOL"),
    _ns,
)
manipulation.push_expert_target = _ns["push_expert_target"]
EPOCHS = int(os.environ.get("EPOCHS", "30"))  # every clone's epochs, round 0's too (session 23: 30)
# TEACHER=smooth: demonstrations and labels from smooth_teacher.py (smooth in what the clone observes)
TEACHER = os.environ.get("TEACHER", "expert")
if TEACHER == "smooth":
    sys.path.insert(0, str(Path(__file__).parent))
    from smooth_teacher import teacher_action, teacher_move

    manipulation.ManipulationGTEnv.expert_action = lambda self: teacher_action(self)
from cosmos_sim.bench.rl_loop import Config, _clone_expert, _gt_env
from cosmos_sim.data.store import TrajectoryStore
from cosmos_sim.policies import bc
from cosmos_sim.policies.evaluate import run_episodes
from cosmos_sim.policies.networks import load_policy

W = Path(sys.argv[1])
W.mkdir(parents=True, exist_ok=True)
ROUNDS, PER_ROUND = int(sys.argv[2]), int(sys.argv[3])
MODE = sys.argv[4] if len(sys.argv) > 4 else "all"
cfg = Config(
    env_id="cosmos_sim/Manipulation-GT-v0",
    bc_episodes=100,
    tracked=("red_block_x", "red_block_y"),
    bc_epochs=EPOCHS,
)
if MODE == "obs" and TEACHER != "smooth":
    sys.exit("labels 'obs' are the smooth teacher's on the clone's observation: set TEACHER=smooth")
env_id, kwargs = _gt_env(cfg)
print(env_id, kwargs, flush=True)
val = list(range(100500, 100756))


def clone(data, out):
    """The bench's clone settings (``_clone_expert``) on ``data``."""
    bc.train(
        bc.Args(
            data=tuple(map(str, data)),
            env_id=env_id,
            env_kwargs=json.dumps(kwargs),
            obs_key="state",
            epochs=EPOCHS,
            finetune_log_std=-2.0,
            out=str(out),
            seed=0,
            device="cpu",
        )
    )


def evaluate(d):
    return run_episodes(load_policy(str(d), "cpu").net, env_id, val, kwargs)[0].success_rate


def dagger_round(policy_dir, store_path, seed0, n):
    net = load_policy(str(policy_dir), "cpu").net
    env = gym.make(env_id, **kwargs)
    st = TrajectoryStore.create(store_path, attrs={"env_id": env_id})
    succ = 0
    for k in range(n):
        seed = seed0 + k
        obs, info = env.reset(seed=seed)
        observations, labels = [obs], []
        done = False
        while not done:
            a = net.act(np.asarray(obs)[None], env.action_space, True, None)[0]
            lab = env.unwrapped.expert_action().astype(np.float32)
            if MODE == "xyz":
                lab[3:] = a[3:]
            if MODE == "obs":  # the smooth teacher on what the clone sees (hand, goal, block as estimated)
                o = np.asarray(obs, dtype=np.float64)
                lab[:3] = teacher_move(o[:3], np.r_[o[5:7], 0.0], np.r_[o[3:5], 0.0])
            labels.append(lab)
            obs, r, term, trunc, info = env.step(a)
            observations.append(obs)
            done = term or trunc
        succ += bool(info.get("is_success", False))
        labels.append(np.zeros_like(labels[0]))
        st.add_episode(
            {"state": np.stack(observations).astype(np.float32), "action": np.stack(labels)}, seed=seed
        )
    st.close()
    return succ / n


t0 = time.time()
p = W / "bc"  # the bench's push clone: 100 expert episodes from seed 5000 (W/demos.zarr), 30 epochs
if not p.exists():
    _clone_expert(cfg, W)
data = [W / "demos.zarr"]
print(f"bc0 val {evaluate(p):.3f}  t={time.time() - t0:.0f}", flush=True)
for r in range(1, ROUNDS + 1):
    s = W / f"dagger{r}.zarr"
    cs = dagger_round(p, s, 7000 + 1000 * r, PER_ROUND)
    data.append(s)
    p = W / f"bc{r}"
    clone(data, p)
    print(
        f"round {r}: collect success {cs:.3f}; bc{r} val {evaluate(p):.3f}  t={time.time() - t0:.0f}",
        flush=True,
    )
