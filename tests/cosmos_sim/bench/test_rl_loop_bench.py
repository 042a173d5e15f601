"""bench rl-loop's behaviour-cloned start: the clone carries the exploration the fine-tuning arms begin with."""

import numpy as np

from cosmos_sim.bench.rl_loop import Config, _clone_expert
from cosmos_sim.policies.networks import load_policy


def test_clone_expert_writes_the_configured_log_std_and_joins_its_demonstrations(tmp_path):
    cfg = Config(env_id="cosmos_sim/Manipulation-GT-v0", bc_episodes=2, bc_epochs=1, bc_log_std=-1.7)
    out = _clone_expert(cfg, tmp_path)
    assert out.bc_episodes == 0 and out.policy_init == str(tmp_path / "bc")
    assert out.prior_data[0] == str(tmp_path / "demos.zarr")
    log_std = load_policy(tmp_path / "bc", "cpu").net.log_std.detach().numpy()
    np.testing.assert_allclose(log_std, -1.7)


def test_improve_imitate_needs_demonstrations_to_clone():
    import pytest

    from cosmos_sim.errors import ConfigError

    with pytest.raises(
        ConfigError, match="--improve imitate re-clones the expert's demonstrations: pass --bc-ep"
    ):
        Config(env_id="cosmos_sim/Manipulation-GT-v0", improve="imitate")
    assert (
        Config(env_id="cosmos_sim/Manipulation-GT-v0", improve="imitate", bc_episodes=2).improve == "imitate"
    )
