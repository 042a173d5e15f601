"""cosmos-sim: world foundation models as Gymnasium environments, beside physics ground truth.

Importing this package registers every ``cosmos_sim/...`` Gymnasium id (gymnasium 1.x has no
plugin auto-loading), so ``gym.make("cosmos_sim/Manipulation-GT-v0")`` works after
``import cosmos_sim``.
"""

from cosmos_sim.envs import register_envs

__version__ = "0.1.0"

register_envs()

__all__ = ["__version__", "register_envs"]
