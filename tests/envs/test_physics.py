"""The physics scenarios: env contract, seeding, perturbation, control maps and the physics itself."""

import warnings

import gymnasium as gym
import mujoco
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import cosmos_sim  # noqa: F401  (registers the ids)
from cosmos_sim.envs import PHYSICS_EPISODE_STEPS, PHYSICS_SCENARIOS
from cosmos_sim.envs.base import project
from cosmos_sim.envs.physics import GRAVITY, SCENARIO_KEYS, PhysicsConfig, PhysicsGTEnv

IDS = [f"cosmos_sim/Physics-{suffix}-GT-v0" for suffix in PHYSICS_SCENARIOS]
NOOP = np.zeros(1, dtype=np.float32)


def _rollout(env: PhysicsGTEnv, steps: int) -> list[dict]:
    """info["objects"] at reset (already in env) and after each of ``steps`` steps, with the time."""
    out = []
    for i in range(steps):
        _, _, terminated, truncated, info = env.step(NOOP)
        assert not terminated and not truncated
        out.append({"t": (i + 1) / env.config.fps, **info["objects"]})
    return out


def _make(scenario: str, seed: int = 0, **kw) -> tuple[PhysicsGTEnv, dict]:
    """An env reset at ``seed``; tiny frames by default, the physics tests read states only."""
    env = PhysicsGTEnv(scenario, **{"width": 16, "height": 16, **kw})
    _, info = env.reset(seed=seed)
    return env, info


def test_registry_matches_scenarios():
    assert set(PHYSICS_SCENARIOS.values()) == set(SCENARIO_KEYS)
    assert PhysicsConfig().episode_steps == PHYSICS_EPISODE_STEPS


@pytest.mark.parametrize("env_id", IDS)
def test_check_env_and_episode_length(env_id):
    env = gym.make(env_id, width=32, height=24)
    check_env(env.unwrapped)
    with warnings.catch_warnings():  # check_env advises the unwrapped env; the wrapped one must pass too
        warnings.filterwarnings("ignore", message=".*different from the unwrapped version")
        check_env(env)
    obs, info = env.reset(seed=3)
    assert obs.shape == (24, 32, 3) and obs.dtype == np.uint8 and env.render().shape == (24, 32, 3)
    assert env.unwrapped.action_layout == ("noop",) and env.action_space.shape == (1,)
    assert info["physics"] and all(isinstance(v, float) for v in info["physics"].values())
    steps, truncated = 0, False
    while not truncated:
        _, reward, terminated, truncated, _ = env.step(env.action_space.sample())
        assert reward == 0.0 and not terminated
        steps += 1
    assert steps == PHYSICS_EPISODE_STEPS
    env.close()


@pytest.mark.parametrize("scenario", SCENARIO_KEYS)
def test_same_seed_same_video_other_seed_other_start(scenario):
    def frames(seed: int) -> tuple[list[bytes], dict]:
        env = PhysicsGTEnv(scenario, width=32, height=32)
        obs, info = env.reset(seed=seed)
        out = [obs.tobytes()] + [env.step(NOOP)[0].tobytes() for _ in range(12)]
        return out, info

    (a, info_a), (b, _), (c, info_c) = frames(5), frames(5), frames(6)
    assert a == b
    assert a[0] != c[0], "a different seed should look different from the first frame"
    assert len(set(a)) > 3, "the scene should move"
    start = lambda info: np.concatenate([np.r_[o["pos"], o["linvel"]] for o in info["objects"].values()])  # noqa: E731
    assert not np.allclose(start(info_a), start(info_c))
    assert info_a["physics"] != info_c["physics"]


def test_bad_arguments_raise_clear_errors():
    with pytest.raises(ValueError, match="free_fall.*projectile"):
        PhysicsGTEnv("rolling_boulder")
    with pytest.raises(ValueError, match=r"unknown option\(s\) \['colour'\].*PhysicsConfig fields"):
        PhysicsGTEnv("bounce", colour="red")
    with pytest.raises(ValueError, match="whole number"):
        PhysicsGTEnv("bounce", fps=30)
    env = PhysicsGTEnv("bounce")
    with pytest.raises(ValueError, match="perturb"):
        env.reset(seed=0, options={"perturb": 2.0})
    with pytest.raises(ValueError, match="unknown reset option"):
        env.reset(seed=0, options={"pertub": 0.05})
    with pytest.raises(ValueError, match="take"):
        env.reset(seed=0, options={"perturb": 0.05, "take": -1})


@pytest.mark.parametrize("scenario", ["collision", "dominoes", "pendulum"])
def test_perturb_keeps_initial_state_and_scales_parameters(scenario):
    env = PhysicsGTEnv(scenario)

    def reset(**options):
        _, info = env.reset(seed=11, options=options)
        return info, env.data.qpos.copy(), env.data.qvel.copy()

    base, qpos, qvel = reset()
    take0, qpos0, qvel0 = reset(perturb=0.05)
    model_mass = {
        k: float(env.model.body_mass[env.model.body(k.split("/")[0]).id])
        for k in take0["physics"]
        if k.endswith("/mass")
    }
    take1, qpos1, qvel1 = reset(perturb=0.05, take=1)
    take0_again, *_ = reset(perturb=0.05)
    for q, v in ((qpos0, qvel0), (qpos1, qvel1)):
        np.testing.assert_array_equal(q, qpos)
        np.testing.assert_array_equal(v, qvel)
    for name, obj in base["objects"].items():
        np.testing.assert_allclose(take1["objects"][name]["pos"], obj["pos"], atol=1e-12)
        np.testing.assert_allclose(take1["objects"][name]["linvel"], obj["linvel"], atol=1e-12)
    scaled = [k for k in base["physics"] if k.split("/")[-1] in ("mass", "friction", "restitution")]
    assert any(k.endswith("/mass") for k in scaled)
    for k in scaled:
        ratio = take0["physics"][k] / base["physics"][k]
        assert 0.95 <= ratio <= 1.05 and ratio != 1.0, k
    unscaled = set(base["physics"]) - set(scaled)
    assert all(take0["physics"][k] == base["physics"][k] for k in unscaled)
    assert take0["physics"] == take0_again["physics"], "a take is reproducible"
    assert take0["physics"] != take1["physics"], "two takes perturb differently"
    assert model_mass == {k: v for k, v in take0["physics"].items() if k.endswith("/mass")}, (
        "the model uses them"
    )


def test_free_fall_follows_half_g_t_squared_until_impact():
    env, info = _make("free_fall", seed=2)
    z0 = {n: o["pos"][2] for n, o in info["objects"].items()}
    checked = 0
    for frame in _rollout(env, 12):
        t = frame["t"]
        for name, z_start in z0.items():
            expected = z_start - 0.5 * GRAVITY * t**2
            if expected < 0.16 * np.sqrt(3) + 0.05:  # could touch the floor (block corner) by now
                continue
            assert frame[name]["pos"][2] == pytest.approx(expected, abs=0.01), (name, t)
            assert frame[name]["linvel"][2] == pytest.approx(-GRAVITY * t, abs=0.03), (name, t)
            checked += 1
    assert checked >= 10


def test_projectile_follows_the_parabola():
    env, info = _make("projectile", seed=4)
    p0, v0 = info["objects"]["ball"]["pos"], info["objects"]["ball"]["linvel"]
    assert v0[2] > 3.0 and v0[0] > 1.0
    flight = 2 * v0[2] / GRAVITY
    checked = 0
    for frame in _rollout(env, 30):
        t = frame["t"]
        if t > flight - 0.05:
            break
        expected = p0 + v0 * t + np.array([0.0, 0.0, -0.5 * GRAVITY * t**2])
        np.testing.assert_allclose(frame["ball"]["pos"], expected, atol=0.015)
        checked += 1
    assert checked >= 12
    last = _rollout(env, PHYSICS_EPISODE_STEPS - 30)[-1]["ball"]
    assert np.linalg.norm(last["linvel"]) < 0.3, "rolling friction stops the ball in view"


@pytest.mark.parametrize("seed", [0, 1])
def test_collision_conserves_horizontal_momentum(seed):
    env, info = _make("collision", seed=seed, fps=100)  # 10 ms frames: the contact lasts ~20 ms
    phys = info["physics"]
    mass = {b: phys[f"{b}/mass"] for b in ("ball_a", "ball_b")}
    radius = 0.18

    def momentum(frame):
        return sum(mass[b] * frame[b]["linvel"][:2] for b in mass)

    frames = [{"t": 0.0, **info["objects"]}] + _rollout(env, 150)
    gap = [np.linalg.norm(f["ball_a"]["pos"] - f["ball_b"]["pos"]) - 2 * radius for f in frames]
    touching = [i for i, g in enumerate(gap) if g <= 0]
    assert touching, "ball_a must reach ball_b"
    before = frames[touching[0] - 1]
    after = next(f for i, f in enumerate(frames) if i > touching[0] and gap[i] > 0)
    assert np.linalg.norm(before["ball_b"]["linvel"][:2]) < 1e-3
    p_before, p_after = momentum(before), momentum(after)
    # The only external horizontal force is floor friction: |impulse| <= mu * g * M * dt.
    mu = max(phys["ball_a/friction"], phys["ball_b/friction"])
    bound = mu * GRAVITY * sum(mass.values()) * (after["t"] - before["t"])
    assert np.linalg.norm(p_after - p_before) <= bound + 0.01 * np.linalg.norm(p_before)
    assert np.linalg.norm(mass["ball_b"] * after["ball_b"]["linvel"][:2]) > 0.3 * np.linalg.norm(p_before), (
        "momentum was transferred"
    )


def test_pendulum_period_and_energy():
    env, info = _make("pendulum", seed=1, fps=100)  # finer sampling of the swing
    m, d = env.model, env.data
    hinge = m.joint("rod").id
    theta0, omega0 = float(d.qpos[hinge]), float(d.qvel[hinge])
    # Physical pendulum about the hinge: I from the mass matrix, m*g*l from the subtree.
    full = np.zeros((m.nv, m.nv))
    mujoco.mj_fullM(m, d, full)
    inertia = full[0, 0]
    rod = m.body("rod").id
    mgl = m.body_subtreemass[rod] * GRAVITY * np.linalg.norm(d.subtree_com[rod] - d.xpos[rod])

    def energy():
        return 0.5 * inertia * d.qvel[hinge] ** 2 + mgl * (1 - np.cos(d.qpos[hinge]))

    e0 = energy()
    amplitude = np.arccos(1 - e0 / mgl)
    t0 = 2 * np.pi * np.sqrt(inertia / mgl)
    expected = t0 * (1 + amplitude**2 / 16 + 11 * amplitude**4 / 3072)
    angles, energies = [theta0], [e0]
    for _ in range(int(2.5 * expected * env.config.fps)):
        env.step(NOOP)
        angles.append(float(d.qpos[hinge]))
        energies.append(energy())
    a = np.array(angles)
    up = np.flatnonzero((a[:-1] < 0) & (a[1:] >= 0))  # upward zero crossings, interpolated
    times = (up + a[up] / (a[up] - a[up + 1])) / env.config.fps
    assert len(times) >= 2 and abs(omega0) < 0.31
    assert np.diff(times).mean() == pytest.approx(expected, rel=0.01)
    assert np.ptp(energies) < 0.01 * e0
    assert info["physics"]["rod/length"] == pytest.approx(
        np.linalg.norm(d.xpos[m.body("bob").id] - d.xpos[rod])
    )


def test_bounce_restitution_matches_the_parameter():
    env, info = _make("bounce", seed=3, fps=100)
    e, radius = info["physics"]["ball/restitution"], 0.18
    zs = (
        np.array([info["objects"]["ball"]["pos"][2]] + [f["ball"]["pos"][2] for f in _rollout(env, 240)])
        - radius
    )
    peaks = [zs[0]] + [
        zs[i] for i in range(1, len(zs) - 1) if zs[i - 1] < zs[i] >= zs[i + 1] and zs[i] > 0.05
    ]
    assert len(peaks) >= 3
    measured = np.sqrt(np.array(peaks[1:3]) / np.array(peaks[:2]))  # h_{k+1} / h_k = e^2
    np.testing.assert_allclose(measured, e, atol=0.05)


def test_block_slides_with_coulomb_friction_on_the_ramp():
    env, info = _make("inclined_plane", seed=5, fps=100)
    theta = np.deg2rad(info["physics"]["ramp/angle_deg"])
    mu = info["physics"]["block/friction"]
    assert mu < np.tan(theta)
    down = np.array([np.cos(theta), 0.0, -np.sin(theta)])
    frames = _rollout(env, 60)
    s = np.array([(f["block"]["pos"] - info["objects"]["block"]["pos"]) @ down for f in frames])
    t = np.array([f["t"] for f in frames])
    accel = 2 * np.polyfit(t, s, 2)[0]
    assert accel == pytest.approx(GRAVITY * (np.sin(theta) - mu * np.cos(theta)), rel=0.1)


@pytest.mark.parametrize("scenario", SCENARIO_KEYS)
def test_seg_and_depth_at_projected_objects_and_floor(scenario):
    env, info = _make(scenario, seed=0, width=96, height=96, maps="depth,seg")
    k, e = info["cameras"]["main"]["intrinsics"], info["cameras"]["main"]["extrinsics"]
    seg, depth = info["maps"]["main"]["seg"], info["maps"]["main"]["depth"]
    labels = env.segmentation_labels
    ids = {name: i for i, name in labels.items()}
    m, d = env.model, env.data
    moving = [n for n in labels.values() if n in info["objects"]]
    assert moving and set(info["objects"]) == set(moving)
    for name in moving:
        for g in np.flatnonzero(m.geom_bodyid == m.body(name).id):
            u, v, z = project(d.geom_xpos[g][None], k, e)[0]
            assert 0 <= u < 96 and 0 <= v < 96, f"{name} out of view"
            assert seg[int(v), int(u)] == ids[name], name
            assert z - m.geom_rbound[g] - 0.01 <= depth[int(v), int(u)] <= z, name
    # A floor point far behind the scene: seg says floor, depth is its known z-distance.
    u, v, z = project(np.array([[0.0, 4.0, 0.0]]), k, e)[0]
    assert 0 <= u < 96 and 0 <= v < 96
    # the depth pixel samples the ray through its centre: intersect that ray with the floor
    ray = np.linalg.inv(k) @ np.array([int(u) + 0.5, int(v) + 0.5, 1.0])
    r_cw, t_cw = e[:3, :3].T, -e[:3, :3].T @ e[:3, 3]  # camera-to-world
    direction = r_cw @ ray
    expected_depth = -t_cw[2] / direction[2]  # z-depth of the floor hit (ray z-component is 1)
    assert seg[int(v), int(u)] == ids["floor"]
    assert depth[int(v), int(u)] == pytest.approx(expected_depth, rel=0.01)
    assert expected_depth == pytest.approx(z, rel=0.1)
