"""Policies: scripted experts, random, and (later) PPO and behaviour cloning."""

from cosmos_sim.policies.scripted import ExpertPolicy, Policy, RandomPolicy, make_policy

__all__ = ["ExpertPolicy", "Policy", "RandomPolicy", "make_policy"]
