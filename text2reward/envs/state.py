"""Read-only batched state views handed to reward programs, and recorded episodes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from text2reward.envs.spec import EnvSpec


def _frozen(array: np.ndarray) -> np.ndarray:
    view = array.view()
    view.flags.writeable = False
    return view


class StateView:
    """Named features of a batch of states; every attribute is a read-only array (n_envs, ...).

    ``state.obs`` is the raw observation batch.
    """

    __slots__ = ("_features",)

    def __init__(self, features: dict[str, np.ndarray]):
        object.__setattr__(self, "_features", features)

    @classmethod
    def from_obs(cls, spec: EnvSpec, obs: np.ndarray) -> StateView:
        """Build the read-only view of a batch of flat observations (copied, then frozen)."""
        obs = _frozen(np.array(obs, dtype=np.float64))  # a private copy; its slices stay frozen
        features = {f.name: f.extract(obs) for f in spec.features}
        for name, value in features.items():
            if value.flags.writeable:  # computed features are new arrays
                features[name] = _frozen(value)
        features["obs"] = obs
        return cls(features)

    def __getattr__(self, name: str) -> np.ndarray:
        try:
            return self._features[name]
        except KeyError:
            names = ", ".join(sorted(self._features))
            raise AttributeError(f"state has no feature {name!r}; features: {names}") from None

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("state views are read-only")

    def __dir__(self) -> list[str]:
        return sorted(self._features)

    def as_dict(self) -> dict[str, np.ndarray]:
        return dict(self._features)


@dataclass
class Episode:
    """One finished episode, as a success function sees it.

    ``features[name]`` has one row per visited state, the initial and the final one included
    (length + 1 rows); ``env_rewards`` are the env's own rewards (length rows).
    """

    features: dict[str, np.ndarray]
    actions: np.ndarray
    env_rewards: np.ndarray
    terminated: bool
    truncated: bool

    @property
    def length(self) -> int:
        return len(self.env_rewards)

    @property
    def env_return(self) -> float:
        return float(np.sum(self.env_rewards))

    @classmethod
    def from_arrays(
        cls,
        spec: EnvSpec,
        obs: np.ndarray,
        actions: np.ndarray,
        env_rewards: np.ndarray,
        terminated: bool,
        truncated: bool,
    ) -> Episode:
        obs = np.asarray(obs, dtype=np.float64)
        features = {f.name: np.asarray(f.extract(obs)) for f in spec.features}
        features["obs"] = obs
        return cls(features, np.asarray(actions), np.asarray(env_rewards), terminated, truncated)
