"""How one recorded state *row* splits into the observation and the simulator features.

A row is what the reward wrapper, the runtime critic and stored episodes keep per state: the
observation flattened to float64 (a dict observation key by key, in the space's order)
followed by the raw simulator vector of the spec's probes (see ``sim.py``). For an env whose
features all come from a flat observation, a row is just the observation. Features are
computed from rows on demand (``StateLayout.feature``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np

from text2reward.envs.sim import SimLayout, parse_probe
from text2reward.errors import UsageError

if TYPE_CHECKING:
    from gymnasium import spaces

    from text2reward.envs.model import Feature


@dataclass(frozen=True)
class ObsLayout:
    """Keys and shapes of an observation; ``keys`` is None for a single (non-dict) space."""

    keys: tuple[str, ...] | None
    shapes: tuple[tuple[int, ...], ...]

    @cached_property  # read on every feature access of every step: computed once
    def sizes(self) -> list[int]:
        return [int(np.prod(s)) for s in self.shapes]

    @cached_property
    def size(self) -> int:
        return sum(self.sizes)

    @classmethod
    def from_space(cls, space: spaces.Space) -> ObsLayout:
        from gymnasium import spaces

        if isinstance(space, spaces.Dict):
            keys = tuple(k for k, s in space.spaces.items() if _numeric(s))
            return cls(keys, tuple(_shape(space.spaces[k]) for k in keys))
        if not _numeric(space):
            raise UsageError(f"observation space {space} has no numeric form; wrap the env so "
                             "it observes a Box or a Dict of Boxes")
        return cls(None, (_shape(space),))

    @classmethod
    def infer(cls, obs: Any) -> ObsLayout:
        """The layout of an observation batch (first axis: envs)."""
        if isinstance(obs, dict):
            return cls(tuple(obs), tuple(np.shape(v)[1:] for v in obs.values()))
        return cls(None, (np.shape(obs)[1:],))

    def flatten(self, obs: Any) -> np.ndarray:
        """A batch of observations as float64 rows (n, size), in new memory."""
        if self.keys is None:
            arr = np.array(obs, dtype=np.float64)
            return arr if arr.ndim == 2 else arr.reshape(len(arr), -1)
        parts = [np.asarray(obs[k], dtype=np.float64) for k in self.keys]
        return np.concatenate([p.reshape(len(p), -1) for p in parts], axis=1)

    def as_rows(self, obs: Any) -> np.ndarray:
        """A batch of observations as rows (n, size): a view of flat ones where they allow
        it, new float64 rows of dict ones."""
        if self.keys is not None:
            return self.flatten(obs)
        arr = np.asarray(obs)
        return arr if arr.ndim == 2 else arr.reshape(len(arr), -1)

    def flatten_one(self, obs: Any) -> np.ndarray:
        """One env's observation as a float64 row."""
        if self.keys is None:
            return np.asarray(obs, dtype=np.float64).ravel()
        return np.concatenate([np.asarray(obs[k], dtype=np.float64).ravel() for k in self.keys])

    def unflatten(self, flat: np.ndarray) -> Any:
        """Float64 rows back to the observation's shape: an array, or a dict of arrays by key."""
        n = len(flat)
        if self.keys is None:
            return flat if len(self.shapes[0]) == 1 else flat.reshape(n, *self.shapes[0])
        out, at = {}, 0
        for key, shape, size in zip(self.keys, self.shapes, self.sizes, strict=True):
            out[key] = flat[:, at : at + size].reshape(n, *shape)
            at += size
        return out

    def key_columns(self, flat: np.ndarray) -> dict[str, np.ndarray]:
        """Dict observations: each key's columns (n, size_k), for features that index into a key."""
        out, at = {}, 0
        for key, size in zip(self.keys or (), self.sizes, strict=False):
            out[key] = flat[:, at : at + size]
            at += size
        return out


def _numeric(space: spaces.Space) -> bool:
    from gymnasium import spaces

    numeric = (spaces.Box, spaces.Discrete, spaces.MultiDiscrete, spaces.MultiBinary)
    return isinstance(space, numeric)


def _shape(space: spaces.Space) -> tuple[int, ...]:
    return tuple(space.shape) if space.shape else ()


@dataclass(frozen=True)
class StateLayout:
    """A row: the flattened observation, then (if the spec has probes) the simulator vector."""

    obs: ObsLayout
    sim: SimLayout | None = None

    @property
    def size(self) -> int:
        return self.obs.size + (self.sim.size if self.sim else 0)

    @classmethod
    def infer(cls, obs: Any) -> StateLayout:
        return cls(ObsLayout.infer(obs))

    def rows(self, obs: Any, sim: np.ndarray | None = None,
             out: np.ndarray | None = None) -> np.ndarray:
        """Rows of a batch: observations (any form) and gathered simulator vectors; written
        into ``out``, else always a new array (it may be handed to untrusted code)."""
        if out is None and self.sim is None:
            return self.obs.flatten(obs)
        flat = self.obs.as_rows(obs)  # flat observations: no intermediate copy
        if out is None:
            return np.concatenate((flat, sim), axis=1, dtype=np.float64)
        width = self.obs.size
        out[:, :width] = flat
        if self.sim is not None:
            out[:, width:] = sim
        return out

    def observation(self, rows: np.ndarray) -> Any:
        """``state.obs``: the observation part of rows, in the observation's own shape."""
        return self.obs.unflatten(rows[:, : self.obs.size])

    def column(self, feature: Feature) -> int | slice | None:
        """Where a feature that is plainly a column (or columns) of the rows sits, so that it
        is read as ``rows[:, column]``; None when it is computed. Found once per feature."""
        cache = self.__dict__.setdefault("_columns", {})  # frozen dataclass: a private cache
        if feature.name not in cache:
            cache[feature.name] = self._column(feature)
        return cache[feature.name]

    def _column(self, feature: Feature) -> int | slice | None:
        if feature.expr is not None:
            return None
        if feature.sim is not None:
            return None if self.sim is None else self.sim.column(parse_probe(feature.sim),
                                                                 self.obs.size)
        index = feature.index
        if self.obs.keys is not None or index is None:
            return None
        if isinstance(index, tuple):
            start, stop = index
            ok = 0 <= start <= stop <= self.obs.size
            return slice(start, stop) if ok else None
        return int(index) if 0 <= index < self.obs.size else None

    def feature(self, feature: Feature, rows: np.ndarray) -> np.ndarray:
        """One feature for a batch of rows (a view where possible, else a new array)."""
        if feature.sim is not None:
            if self.sim is None:
                raise RuntimeError(f"feature {feature.name!r} reads the simulator "
                                   f"({feature.sim}) but these states carry no simulator vector")
            value = self.sim.evaluate(parse_probe(feature.sim), rows[:, self.obs.size :])
            if feature.expr is None:
                return value
            return eval(feature.expr, {"np": np, "value": value})  # noqa: S307 (spec code)
        flat = rows[:, : self.obs.size]
        if self.obs.keys is None:
            return feature.extract(flat)
        columns = self.obs.key_columns(flat)
        if feature.key is not None:
            return feature.extract(columns[feature.key])
        if feature.expr is None:
            raise UsageError(f"feature {feature.name!r} of a dict observation needs a 'key'")
        return eval(feature.expr, {"np": np, "obs": columns, **columns})  # noqa: S307

