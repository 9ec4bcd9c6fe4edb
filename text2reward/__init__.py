"""text2reward: write, verify and evolve reward functions for Gymnasium environments."""

__version__ = "0.1.0"
