"""The MuJoCo GT envs' one-pass rendering: depth and segmentation from ONE segmentation-mode render per
camera, bit-identical to what ``mujoco.Renderer`` gives from its separate RGB, depth and segmentation
renders, for every registered MuJoCo id."""

import gymnasium as gym
import mujoco
import numpy as np
import pytest

import cosmos_sim  # noqa: F401  (registers the ids)
from cosmos_sim.envs import registered_ids
from cosmos_sim.envs.base import extrinsics_from_gl_pose
from cosmos_sim.envs.mujoco_base import MujocoGTEnv, SceneRenderer


def _mujoco_ids() -> list[str]:
    ids = []
    for env_id in registered_ids():
        entry = gym.spec(env_id).entry_point
        module, name = entry.split(":")
        if issubclass(getattr(__import__(module, fromlist=[name]), name), MujocoGTEnv):
            ids.append(env_id)
    return ids


def _reference(env: MujocoGTEnv, camera: str) -> dict[str, np.ndarray]:
    """RGB, depth and seg of ``camera`` the way the envs made them before: mujoco.Renderer, one pass each."""
    r = mujoco.Renderer(env.model, env.height, env.width)
    try:
        r.update_scene(env.data, camera)
        rgb = r.render().copy()
        r.enable_depth_rendering()
        depth = r.render().astype(np.float32)
        r.disable_depth_rendering()
        r.enable_segmentation_rendering()
        raw = r.render()
    finally:
        r.close()
    objid, objtype = raw[..., 0], raw[..., 1]
    is_geom = (objtype == int(mujoco.mjtObj.mjOBJ_GEOM)) & (objid >= 0)
    seg = env._geom_instance[np.where(is_geom, objid, env.model.ngeom)].astype(np.int32)
    return {"rgb": rgb, "depth": depth, "seg": seg}


@pytest.mark.parametrize("env_id", _mujoco_ids())
def test_rgb_depth_and_seg_are_bit_identical_to_mujoco_renderers_separate_passes(env_id):
    env = gym.make(env_id, maps="depth,seg", width=48, height=40).unwrapped
    env.action_space.seed(0)
    obs, info = env.reset(seed=3)
    for t in range(3):
        for cam in env.cameras:
            ref = _reference(env, cam)
            got = {"rgb": env.rgb(cam), **info["maps"][cam]}
            assert got.keys() == ref.keys()
            for k in ref:
                assert got[k].dtype == ref[k].dtype and got[k].shape == ref[k].shape, (t, cam, k)
                assert np.array_equal(got[k], ref[k]), (env_id, t, cam, k)
            # one map alone is the same map
            assert np.array_equal(env.control_maps(cam, "depth")["depth"], ref["depth"])
            assert np.array_equal(env.control_maps(cam, "seg")["seg"], ref["seg"])
        assert np.array_equal(obs, env.rgb(env.cameras[0]))
        assert len(np.unique(info["maps"][env.cameras[0]]["seg"])) > 1  # something other than background
        obs, _, _, _, info = env.step(env.action_space.sample())
    env.close()


def test_depth_and_seg_cost_one_render_per_camera(monkeypatch):
    env = gym.make("cosmos_sim/Manipulation-GT-v0", maps="depth,seg")
    env.reset(seed=0)
    calls = []  # per mjr_render call: was it a segmentation-mode render?
    real, segment = mujoco.mjr_render, int(mujoco.mjtRndFlag.mjRND_SEGMENT)

    def counting(rect, scene, ctx):
        calls.append(bool(scene.flags[segment]))
        real(rect, scene, ctx)

    monkeypatch.setattr(mujoco, "mjr_render", counting)
    env.step(env.action_space.sample())
    cams = env.unwrapped.cameras
    # the observation's RGB render, then one segmentation-mode render per camera (depth and ids read from it)
    assert calls == [False] + [True] * len(cams)
    calls.clear()
    env.unwrapped.control_maps(cams[0], "edges")  # RGB-derived maps reuse the cached frame of the main camera
    assert calls == []
    env.close()


def test_renderer_refuses_unknown_cameras_oversized_images_and_use_after_close():
    env = gym.make("cosmos_sim/Physics-Bounce-GT-v0").unwrapped
    env.reset(seed=0)
    r = SceneRenderer(env.model, env.height, env.width)
    with pytest.raises(ValueError, match="camera 'nope'"):
        r.update_scene(env.data, "nope")
    r.update_scene(env.data, env.cameras[0])
    depth, ids = r.depth_and_geom_ids(depth=True, seg=False)
    assert ids is None and depth.dtype == np.float32 and depth.shape == (env.height, env.width)
    assert np.all(depth > 0)
    r.close()
    r.close()  # twice is fine
    with pytest.raises(RuntimeError, match="after close"):
        r.rgb()
    with pytest.raises(ValueError, match="offscreen buffer"):
        SceneRenderer(env.model, 10_000, 64)
    env.close()


def test_maps_from_a_fixed_camera_stay_identical_when_the_world_fixed_geoms_change():
    # The maps' pass draws only the moving geoms over a cached render of the world-fixed ones (floor, table,
    # robot base): that cache must follow resets, a resized table and a moved camera.
    env = gym.make("cosmos_sim/Manipulation-GT-v0", maps="depth,seg", width=40, height=32).unwrapped
    env.action_space.seed(1)
    env.reset(seed=7)
    renderer = env._get_renderer()
    table = mujoco.mj_name2id(env.model, mujoco.mjtObj.mjOBJ_GEOM, "table")
    front = mujoco.mj_name2id(env.model, mujoco.mjtObj.mjOBJ_CAMERA, "front")
    for t in range(8):
        if t == 3:
            env.reset(seed=8)
        if t == 5:
            env.model.geom_size[table, :2] *= 0.6  # the table shrinks: the cached background is stale
            mujoco.mj_forward(env.model, env.data)
        if t == 6:
            before = env.camera_params("front").extrinsics
            env.model.cam_pos[front] += [0.05, -0.03, 0.02]  # the camera moves
            mujoco.mj_forward(env.model, env.data)
            moved = env.camera_params("front").extrinsics  # its calibration follows (it is cached per pose)
            assert not np.allclose(moved, before)
            assert np.allclose(
                moved, extrinsics_from_gl_pose(env.data.cam_xpos[front], env.data.cam_xmat[front])
            )
        for cam in env.cameras:
            ref = _reference(env, cam)
            got = env.control_maps(cam, "depth,seg")
            assert np.array_equal(got["depth"], ref["depth"]), (t, cam)
            assert np.array_equal(got["seg"], ref["seg"]), (t, cam)
        env.step(env.action_space.sample())
    assert renderer._fixed_camera() and len(renderer._background) == 2  # the composed path was the one tested
    env.close()
