"""Read-only batched state views handed to reward programs, and recorded episodes."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from text2reward.envs.layout import StateLayout

if TYPE_CHECKING:
    from text2reward.envs.model import EnvSpec


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


class RowSchema:
    """How the named features of one layout's rows are read: plain columns as views, others
    computed (see envs/layout.py). Built once per layout; shared by every view of its rows."""

    __slots__ = ("columns", "features", "layout", "names")

    def __init__(self, spec: EnvSpec, layout: StateLayout):
        self.features = spec.feature_map
        self.layout = layout
        columns = {name: layout.column(f) for name, f in self.features.items()}
        self.columns = {name: c for name, c in columns.items() if c is not None}
        self.names = [*self.features, "obs"]

    def __contains__(self, name: str) -> bool:
        return name in self.features or name == "obs"

    def compute(self, name: str, rows: np.ndarray) -> Any:
        """Feature ``name`` of ``rows``, read-only."""
        if name == "obs":
            obs = self.layout.observation(rows)
            return ObsView(obs) if isinstance(obs, dict) else _frozen(obs)
        column = self.columns.get(name)
        if column is not None:
            value = rows[:, column]
        else:
            value = np.asarray(self.layout.feature(self.features[name], rows))
        return _frozen(value) if value.flags.writeable else value


class StateView:
    """Named features of a batch of states; every attribute is a read-only array (n_envs, ...).

    ``state.obs`` is the raw observation batch (a dict observation: one attribute per key).
    Features are computed on first access, so a program pays only for what it reads; then they
    sit in the instance's dict, where Python's attribute lookup finds them without calling
    ``__getattr__`` (10x faster). Programs cannot write there: the static critic refuses
    private and dunder attributes, and ``__setattr__`` refuses the rest.
    """

    def __init__(self, features: dict[str, Any], rows: np.ndarray | None = None,
                 schema: RowSchema | None = None):
        """``features``: values by name; ``rows`` and their ``schema``: where the others are
        computed from (``rows`` are made read-only)."""
        if rows is not None:
            rows.flags.writeable = False
        values = self.__dict__
        values.update(features)
        values["_rows"] = rows
        values["_schema"] = schema

    @classmethod
    def from_obs(cls, spec: EnvSpec, obs: Any) -> StateView:
        """Build the read-only view of a batch of observations (flat arrays or dicts) of an
        env whose features all come from the observation."""
        layout = StateLayout.infer(obs)
        return cls.from_rows(spec, layout, layout.rows(obs))

    @classmethod
    def from_rows(cls, spec: EnvSpec, layout: StateLayout, rows: np.ndarray) -> StateView:
        """The view of a batch of state rows (observation, then simulator vector), over a
        private read-only copy of them."""
        return cls({}, np.array(rows, dtype=np.float64), RowSchema(spec, layout))

    @classmethod
    def of_rows(cls, schema: RowSchema, rows: np.ndarray) -> StateView:
        """The view of ``rows`` themselves, no copy; ``rows`` must be read-only (the static
        critic refuses the ways to undo that). The reward wrapper writes each step's rows
        into a slot of its step buffer and hands the program a view of that slot, taken from
        a read-only view of the buffer."""
        view = cls.__new__(cls)
        values = view.__dict__
        values["_rows"] = rows
        values["_schema"] = schema
        return view

    def __getattr__(self, name: str) -> Any:
        # Only called for names not in the instance dict yet: computes and keeps the feature.
        if name.startswith("_"):
            raise AttributeError(name)
        schema = self._schema
        if schema is not None:
            column = schema.columns.get(name)
            if column is not None:  # a view of the read-only rows: read-only
                value = self.__dict__[name] = self._rows[:, column]
                return value
            if name in schema:
                value = self.__dict__[name] = schema.compute(name, self._rows)
                return value
        raise AttributeError(f"state has no feature {name!r}; features: "
                             f"{', '.join(sorted(self.__dir__()))}") from None

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("state views are read-only")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("state views are read-only")

    def __dir__(self) -> list[str]:
        names = {n for n in self.__dict__ if not n.startswith("_")}
        return sorted(names | set(self._schema.names if self._schema else ()))

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__dir__()}


def state_text(spec: EnvSpec, layout: StateLayout, rows: np.ndarray, row: int) -> str:
    """The scalar features of state row ``row`` of ``rows`` (at most 8), for a message that
    names the state where a reward failed."""
    view = StateView.from_rows(spec, layout, rows[row:row + 1])
    parts = []
    for name in spec.feature_names:
        try:
            value = np.asarray(getattr(view, name), dtype=np.float64)
        except Exception:  # a feature that cannot be read here is left out
            continue
        if value.size == 1:
            parts.append(f"{name}={value.item():.4g}")
    return ", ".join(parts[:8])


class EpisodeFeatures(Mapping):
    """An episode's features by name, each computed once on first use.

    ``borrowed`` rows belong to a buffer that will be reused (the reward wrapper's): every
    value is then computed into an array of its own, and ``own()`` copies the rows themselves
    for an episode kept past the moment it was read.
    """

    def __init__(self, spec: EnvSpec, layout: StateLayout, rows: np.ndarray,
                 schema: RowSchema | None = None, borrowed: bool = False):
        self._schema = schema or RowSchema(spec, layout)
        self._rows = np.asarray(rows, dtype=np.float64)
        self._cache: dict[str, Any] = {}
        self._borrowed = borrowed

    def __getitem__(self, name: str) -> Any:
        if name not in self._cache:
            if name not in self._schema:
                raise KeyError(name)
            value = self._schema.compute(name, self._rows)
            value = value._arrays if isinstance(value, ObsView) else value
            if self._borrowed:
                value = ({k: _frozen(np.array(v)) for k, v in value.items()}
                         if isinstance(value, dict) else _frozen(np.array(value)))
            self._cache[name] = value
        return self._cache[name]

    def own(self) -> None:
        """Stop borrowing: copy the rows, so that features computed later stay valid."""
        if self._borrowed:
            self._rows = _frozen(self._rows.copy())
            self._borrowed = False

    def __iter__(self) -> Iterator[str]:
        return iter(self._schema.names)

    def __len__(self) -> int:
        return len(self._schema.names)


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
        schema: RowSchema | None = None,
        borrowed: bool = False,
    ) -> Episode:
        """An episode from its state rows (length + 1: observation, then simulator vector);
        without a layout the rows are flat observations. ``schema``: the layout's, if built;
        ``borrowed``: the rows are a buffer's, to be reused (see EpisodeFeatures)."""
        if layout is None:
            layout = StateLayout.infer(obs)
            obs = layout.rows(obs)
        features = EpisodeFeatures(spec, layout, obs, schema, borrowed)
        return cls(features, np.asarray(actions), np.asarray(env_rewards), terminated, truncated)
