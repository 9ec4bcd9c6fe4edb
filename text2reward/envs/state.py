"""Read-only batched state views handed to reward programs, and recorded episodes."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from text2reward.envs.layout import StateLayout

if TYPE_CHECKING:
    from text2reward.envs.spec import EnvSpec


def _frozen(array: np.ndarray) -> np.ndarray:
    view = array.view()
    view.flags.writeable = False
    return view


class ObsView:
    """A dict observation batch: one read-only array attribute per key (also ``obs["key"]``)."""

    __slots__ = ("_arrays",)

    def __init__(self, arrays: dict[str, np.ndarray]):
        object.__setattr__(self, "_arrays", {k: _frozen(np.asarray(v)) for k, v in arrays.items()})

    def __getattr__(self, name: str) -> np.ndarray:
        try:
            return self._arrays[name]
        except KeyError:
            raise AttributeError(f"the observation has no key {name!r}; keys: "
                                 f"{', '.join(self._arrays)}") from None

    def __getitem__(self, key: str) -> np.ndarray:
        return self.__getattr__(key)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("observations are read-only")

    def __dir__(self) -> list[str]:
        return list(self._arrays)

    def keys(self) -> list[str]:
        return list(self._arrays)


class _Rows:
    """Computes named features of a batch of state rows on first use (see envs/layout.py)."""

    __slots__ = ("features", "layout", "rows")

    def __init__(self, spec: EnvSpec, layout: StateLayout, rows: np.ndarray):
        self.features = spec.feature_map
        self.layout = layout
        self.rows = rows

    @property
    def names(self) -> list[str]:
        return [*self.features, "obs"]

    def compute(self, name: str) -> Any:
        if name == "obs":
            obs = self.layout.observation(self.rows)
            return ObsView(obs) if isinstance(obs, dict) else obs
        feature = self.features[name]
        column = self.layout.column(feature)
        if column is not None:
            value = self.rows[:, column]
        else:
            value = np.asarray(self.layout.feature(feature, self.rows))
        return _frozen(value) if value.flags.writeable else value


class StateView:
    """Named features of a batch of states; every attribute is a read-only array (n_envs, ...).

    ``state.obs`` is the raw observation batch (a dict observation: one attribute per key).
    Features are computed on first access, so a program pays only for what it reads.
    """

    __slots__ = ("_features", "_rows")

    def __init__(self, features: dict[str, Any], rows: _Rows | None = None):
        object.__setattr__(self, "_features", features)
        object.__setattr__(self, "_rows", rows)

    @classmethod
    def from_obs(cls, spec: EnvSpec, obs: Any) -> StateView:
        """Build the read-only view of a batch of observations (flat arrays or dicts) of an
        env whose features all come from the observation."""
        layout = StateLayout.infer(obs)
        return cls.from_rows(spec, layout, layout.rows(obs))

    @classmethod
    def from_rows(cls, spec: EnvSpec, layout: StateLayout, rows: np.ndarray) -> StateView:
        """The view of a batch of state rows: observation, then simulator vector."""
        # A private copy, frozen: untrusted code that un-freezes it (through .base, refused by
        # the static critic) still cannot reach the env's or the episode recorder's arrays.
        rows = _frozen(np.array(rows, dtype=np.float64))
        return cls({}, _Rows(spec, layout, rows))

    def __getattr__(self, name: str) -> Any:
        try:
            return self._features[name]
        except KeyError:
            pass
        if self._rows is not None and (name in self._rows.features or name == "obs"):
            value = self._features[name] = self._rows.compute(name)
            return value
        raise AttributeError(f"state has no feature {name!r}; features: "
                             f"{', '.join(sorted(self.__dir__()))}") from None

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("state views are read-only")

    def __dir__(self) -> list[str]:
        names = set(self._features) | set(self._rows.names if self._rows is not None else ())
        return sorted(names)

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__dir__()}


class EpisodeFeatures(Mapping):
    """An episode's features by name, each computed once on first use."""

    def __init__(self, spec: EnvSpec, layout: StateLayout, rows: np.ndarray):
        self._rows = _Rows(spec, layout, np.asarray(rows, dtype=np.float64))
        self._cache: dict[str, Any] = {}

    def __getitem__(self, name: str) -> Any:
        if name not in self._cache:
            if name not in self._rows.features and name != "obs":
                raise KeyError(name)
            value = self._rows.compute(name)
            self._cache[name] = value._arrays if isinstance(value, ObsView) else value
        return self._cache[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._rows.names)

    def __len__(self) -> int:
        return len(self._rows.names)


@dataclass
class Episode:
    """One finished episode, as a success function sees it.

    ``features[name]`` has one row per visited state, the initial and the final one included
    (length + 1 rows); ``env_rewards`` are the env's own rewards (length rows).
    """

    features: Mapping[str, Any]
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
        layout: StateLayout | None = None,
    ) -> Episode:
        """An episode from its state rows (length + 1: observation, then simulator vector);
        without a layout the rows are flat observations."""
        if layout is None:
            layout = StateLayout.infer(obs)
            obs = layout.rows(obs)
        features = EpisodeFeatures(spec, layout, obs)
        return cls(features, np.asarray(actions), np.asarray(env_rewards), terminated, truncated)
