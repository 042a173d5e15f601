"""The demo (the README's main command) on a small config: every promised file, sensible figures."""

from cosmos_sim.demo import DemoConfig, run_demo


def test_demo_writes_every_file_and_the_world_models_beat_copy_last(tmp_path):
    res = run_demo(DemoConfig(out=str(tmp_path), episodes=1, workers=1, driving_steps=5, wfm_steps=8))
    for name in ("manipulation.zarr", "driving.zarr", "manipulation_episodes.png", "manipulation_maps.png",
                 "driving.png", "physics.png", "manipulation_ep0.mp4", "driving_ep0.mp4", "physics.gif",
                 "wfm_vs_gt.mp4", "wfm_vs_gt.gif", "wfm_psnr.png", "physics_wfm_vs_gt.gif"):
        assert (tmp_path / name).exists(), name
    assert res["manipulation"]["episodes"] == 1 and len(res["physics_frames"]) >= 8
    # Held-out seed, shipped checkpoints: both models predict better than holding the last frame.
    assert res["wfm"]["psnr_mean"] > res["wfm"]["copy_psnr_mean"]
    assert res["physics_wfm"]["psnr_mean"] > res["physics_wfm"]["copy_psnr_mean"]
