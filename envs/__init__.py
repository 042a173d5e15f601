"""Gymnasium environments of cosmos-sim and their registration.

Ground truth (GT) scenes:
    cosmos_sim/Manipulation-GT-v0            MuJoCo arm pushing coloured blocks to a goal
    cosmos_sim/Manipulation-Reach-GT-v0      the same scene, the grip point to above the goal (reach)
    cosmos_sim/Manipulation-Bullet-GT-v0     the same task on PyBullet's Kuka arm
    cosmos_sim/Physics-<Scenario>-GT-v0      MuJoCo rigid-body physics videos (no action)
    cosmos_sim/Driving-GT-v0                 PyBullet ego car with six cameras

World-model (WFM) envs, learned next-frame prediction beside the GT scene they imitate:
    cosmos_sim/Manipulation-WFM-v0           shipped nano renderer of state of Manipulation-GT-v0
                                             (``gym.make_vec`` gives the natively batched env)
    cosmos_sim/Driving-WFM-v0                shipped nano multi-view DiT of Driving-GT-v0 (six cameras)
    cosmos_sim/WFM-v0                        any single-view bundle (``checkpoint=``), of any env that
                                             renders rgb_array, e.g. Reacher-v5 (README, "Bring your own
                                             environment"); episode length from the bundle

Wrappers:
    cosmos_sim/Perceived-v0                  an image env (GT or WFM) observed through a state estimator:
                                             the policy input of the world-model RL loop

Entry points are strings, so nothing heavy is imported until an env is made.
"""

from __future__ import annotations

import gymnasium as gym

#: Physics scenario id suffix -> scenario key understood by ``PhysicsGTEnv``.
PHYSICS_SCENARIOS: dict[str, str] = {
    "FreeFall": "free_fall",
    "InclinedPlane": "inclined_plane",
    "Bounce": "bounce",
    "Collision": "collision",
    "StackTopple": "stack_topple",
    "Dominoes": "dominoes",
    "Pendulum": "pendulum",
    "Projectile": "projectile",
    "CameraOrbit": "camera_orbit",
}

#: Length of every physics video, in env steps (frames after the first).
PHYSICS_EPISODE_STEPS = 48


def _specs() -> list[dict]:
    specs = [
        dict(
            id="cosmos_sim/Manipulation-GT-v0",
            entry_point="cosmos_sim.envs.manipulation:ManipulationGTEnv",
            max_episode_steps=100,
        ),
        dict(  # the same scene, the reach task: learnable by PPO in minutes (the world-model RL loop)
            id="cosmos_sim/Manipulation-Reach-GT-v0",
            entry_point="cosmos_sim.envs.manipulation:ManipulationGTEnv",
            kwargs={"task": "reach"},
            max_episode_steps=50,
        ),
        dict(
            id="cosmos_sim/Manipulation-Bullet-GT-v0",
            entry_point="cosmos_sim.envs.bullet_manipulation:BulletManipulationGTEnv",
            max_episode_steps=100,
        ),
        dict(
            id="cosmos_sim/Driving-GT-v0",
            entry_point="cosmos_sim.envs.driving:DrivingGTEnv",
            max_episode_steps=200,
        ),
    ]
    for suffix, key in PHYSICS_SCENARIOS.items():
        specs.append(
            dict(
                id=f"cosmos_sim/Physics-{suffix}-GT-v0",
                entry_point="cosmos_sim.envs.physics:PhysicsGTEnv",
                kwargs={"scenario": key},
                max_episode_steps=PHYSICS_EPISODE_STEPS,
            )
        )
    return specs


def _wfm_specs() -> list[dict]:
    return [
        dict(
            id="cosmos_sim/Manipulation-WFM-v0",
            entry_point="cosmos_sim.envs.wfm_env:WorldModelEnv",
            vector_entry_point="cosmos_sim.envs.wfm_env:WorldModelVectorEnv",
            max_episode_steps=100,
        ),
        dict(
            id="cosmos_sim/Driving-WFM-v0",
            entry_point="cosmos_sim.envs.driving_wfm:DrivingWorldModelEnv",
            vector_entry_point="cosmos_sim.envs.driving_wfm:DrivingWorldModelVectorEnv",
            max_episode_steps=200,
        ),
        dict(  # no registered time limit: the env truncates itself at the bundle's episode length
            id="cosmos_sim/WFM-v0",
            entry_point="cosmos_sim.envs.wfm_env:GenericWorldModelEnv",
            vector_entry_point="cosmos_sim.envs.wfm_env:GenericWorldModelVectorEnv",
        ),
    ]


def _wrapper_specs() -> list[dict]:
    return [
        dict(  # no registered time limit: the inner env's applies
            id="cosmos_sim/Perceived-v0",
            entry_point="cosmos_sim.envs.perceived:PerceivedStateEnv",
            vector_entry_point="cosmos_sim.envs.perceived:PerceivedStateVectorEnv",
        ),
    ]


def register_envs() -> None:
    """Register every cosmos_sim id with Gymnasium (idempotent)."""
    for spec in _specs() + _wfm_specs() + _wrapper_specs():
        if spec["id"] not in gym.registry:
            gym.register(**spec)


def registered_ids() -> list[str]:
    """All cosmos_sim ground-truth (GT) ids, in registration order."""
    return [s["id"] for s in _specs()]


def wfm_ids() -> list[str]:
    """The world-model env ids (learned dynamics; no control maps, no object states)."""
    return [s["id"] for s in _wfm_specs()]


def wrapper_ids() -> list[str]:
    """Ids that wrap another env (``Perceived-v0``: its frames read by a state estimator)."""
    return [s["id"] for s in _wrapper_specs()]
