"""Gymnasium ids text2reward registers for envs that need an adapter before SB3 can train on
them. Importing this module registers them (a spec names it as its ``module``).

- ``text2reward/MiniGrid-Empty-Random-6x6-v0``: MiniGrid's Empty-Random-6x6 with its dict
  observation (image, direction, mission text) turned into one float vector: the agent's 7x7
  egocentric view (object, colour and state codes scaled to [0, 1]) then its direction one-hot.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np

MINIGRID_ID = "text2reward/MiniGrid-Empty-Random-6x6-v0"


class MiniGridVector(gym.ObservationWrapper):
    """MiniGrid's dict observation as a flat float32 vector (view codes / 10, direction one-hot)."""

    def __init__(self, env: gym.Env):
        super().__init__(env)
        view = env.observation_space["image"].shape
        size = int(np.prod(view)) + 4
        self.observation_space = gym.spaces.Box(0.0, 1.0, (size,), np.float32)

    def observation(self, observation):
        view = np.asarray(observation["image"], dtype=np.float32).ravel() / 10.0
        direction = np.zeros(4, dtype=np.float32)
        direction[int(observation["direction"])] = 1.0
        return np.concatenate([view, direction])


def make_minigrid(**kwargs) -> gym.Env:
    import minigrid  # noqa: F401  (registers MiniGrid's ids)

    return MiniGridVector(gym.make("MiniGrid-Empty-Random-6x6-v0", **kwargs))


def register() -> None:
    """Register text2reward's adapted ids (idempotent)."""
    if MINIGRID_ID not in gym.registry:
        gym.register(MINIGRID_ID, entry_point=make_minigrid, max_episode_steps=144)


register()
