"""Simulator vectors of in-process envs, gathered after each vector step for the state rows
of ``RewardVecEnv`` (envs in other processes send theirs in ``info``: ``envs/sim.py``)."""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from typing import Any

import numpy as np
from stable_baselines3.common.vec_env import VecEnv

from text2reward.envs.layout import StateLayout
from text2reward.envs.sim import Gatherer, SimFeatures, SimLayout
from text2reward.errors import UsageError


class InProcessSims:
    """State rows of the envs of a DummyVecEnv whose specs read the simulator, gathered in
    this process.

    No wrapper layer runs on every env step. After each vector step the rows of every env's
    current state are gathered at once; an env's terminal simulator state is gathered just
    before the DummyVecEnv resets it, by a hook on that env's ``reset``.

    MuJoCo envs: the MjData arrays the probes read and the vector env's observation buffer
    stay at fixed addresses while the MjData lives, so one read-only float64 view spanning
    all of them and the index of every row element in it are made once (again when an env
    makes a new MjData); a step's rows are then a single fancy-indexing copy, instead of a
    copy per env and array. Other envs (``attr:`` probes, or arrays that cannot be viewed)
    are gathered env by env.
    """

    def __init__(self, venv: VecEnv, probes: list):
        self.venv = venv
        self.gatherers = [Gatherer(env, probes) for env in venv.envs]
        self.layout: SimLayout | None = None
        self.terminal: np.ndarray | None = None  # (n_envs, size): the last terminal states
        self._data: list[Any] = []  # the MjData objects the index below was made for
        self._span: np.ndarray | None = None  # a read-only view over all of their arrays
        self._index: np.ndarray | None = None  # (n_envs, row size) positions in _span
        self._keep: tuple | None = None  # the arrays _span covers, kept alive with it
        for i, env in enumerate(venv.envs):
            env.reset = self._hook(i, env.reset)

    @classmethod
    def attach(cls, venv: VecEnv, probes: list) -> InProcessSims | None:
        """For a DummyVecEnv, the gathering of its envs' simulator vectors; None when every env
        puts them in its infos itself (made with ``wrapper_class=SimFeatures``, as SubprocVecEnv
        env processes are)."""
        if all(venv.env_is_wrapped(SimFeatures)):
            return None
        if getattr(venv, "envs", None) is None:
            raise UsageError("simulator features need a DummyVecEnv, or envs made with "
                             "text2reward.envs.sim.SimFeatures as their wrapper_class")
        return cls(venv, probes)

    def _hook(self, i: int, reset: Callable) -> Callable:
        gatherer = self.gatherers[i]

        def reset_after_gathering(**kwargs):
            if self.terminal is not None:  # the env's last state, before it is replaced
                gatherer.gather(out=self.terminal[i])
            return reset(**kwargs)

        return reset_after_gathering

    def start(self) -> SimLayout:
        """After the vector env's reset: the layout of the simulator vectors."""
        if self.layout is None:
            self.layout = self.gatherers[0].layout()
            self.terminal = np.empty((len(self.gatherers), self.layout.size))
        return self.layout

    def rows(self, obs: Any, layout: StateLayout, rebind: bool,
             out: np.ndarray | None = None) -> np.ndarray:
        """Rows of every env's current state, whose observations are ``obs``: written into
        ``out``, or a new array; ``rebind`` after resets (an env may have made a new MjData)."""
        if rebind:
            self._bind(layout)
        if self._index is not None:  # "clip": unbuffered (the indices are all valid)
            return self._span.take(self._index, out=out, mode="clip")
        sims = np.empty((len(self.gatherers), self.layout.size))
        for gatherer, vector in zip(self.gatherers, sims, strict=True):
            gatherer.gather(out=vector)
        return layout.rows(obs, sims, out=out)

    def _bind(self, layout: StateLayout) -> None:
        data = [g.env.data if g.views() is not None else None for g in self.gatherers]
        if len(data) == len(self._data) and all(
                a is b for a, b in zip(data, self._data, strict=True)):
            return  # the same MjData objects: the index still holds
        self._data, self._span, self._index = data, None, None
        buffer = getattr(self.venv, "buf_obs", {}).get(None)
        if any(d is None for d in data) or layout.obs.keys is not None or buffer is None \
                or buffer.dtype != np.float64 or buffer.shape != (len(data), layout.obs.size):
            return
        per_env = [[row, *g.views()] for row, g in zip(buffer, self.gatherers, strict=True)]
        arrays = [a for env_arrays in per_env for a in env_arrays]
        addresses = [a.__array_interface__["data"][0] for a in arrays]
        start = min(addresses)
        stop = max(a + array.nbytes for a, array in zip(addresses, arrays, strict=True))
        if any((a - start) % 8 or not array.flags.c_contiguous
               for a, array in zip(addresses, arrays, strict=True)):
            return
        span = np.frombuffer((ctypes.c_char * (stop - start)).from_address(start),
                             dtype=np.float64)
        span.flags.writeable = False
        index, at = [], 0
        for env_arrays in per_env:
            parts = []
            for array in env_arrays:
                parts.append((addresses[at] - start) // 8 + np.arange(array.size))
                at += 1
            index.append(np.concatenate(parts))
        index = np.array(index)
        if index.shape != (len(data), layout.size):
            return
        self._keep = (buffer, arrays)  # the span is only valid while these live
        self._span, self._index = span, index
