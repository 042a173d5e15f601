"""Policies: scripted experts (plain and noisy), random, PPO and behaviour cloning."""

from cosmos_sim.policies.scripted import (
    POLICIES,
    ExpertPolicy,
    NoisyExpertPolicy,
    Policy,
    RandomPolicy,
    make_policy,
)

__all__ = ["POLICIES", "ExpertPolicy", "NoisyExpertPolicy", "Policy", "RandomPolicy", "make_policy"]
