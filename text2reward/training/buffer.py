"""The step buffer of ``RewardVecEnv``: one slot per vector step, in arrays that grow by
doubling, so an episode's rows are consecutive slots read through views, not copies."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

COMPONENT = "component:"  # step buffer arrays of components: this prefix, then the name


class StepBuffer:
    """Per-step batches in named arrays indexed (slot, env, ...) that grow by doubling; slots
    before the oldest running episode's start are dropped when the arrays are full.

    Slot 0 holds the initial states' rows; each later slot one step: its next-state rows,
    actions, env rewards, reward and components. When an env's episode ends, its new first
    state replaces its last rows in that step's slot, so every episode's rows, initial state
    included, are consecutive slots.
    """

    @staticmethod
    def capacity_for(time_limit: int | None) -> int:
        """Room for a whole episode of the env's time limit and its first state (no growing
        on the way), within 512 to 4096 slots."""
        if not time_limit:
            return 512
        return min(max(512, 1 << int(time_limit).bit_length()), 4096)

    def __init__(self, capacity: int, first_rows: np.ndarray):
        self.capacity = capacity
        self.base = 0  # global slot index of row 0
        self.arrays: dict[str, np.ndarray] = {}
        self.readonly: dict[str, np.ndarray] = {}  # read-only views of the same arrays
        self._add("rows", np.empty((capacity, *np.shape(first_rows))))[0] = first_rows
        self.used = 1  # slots in use (their rows are written)
        self.recorded = 1  # slots whose other arrays are written too

    @property
    def end(self) -> int:
        """Global index one past the last slot in use."""
        return self.base + self.used

    def new_slot(self, starts: np.ndarray, flush: Callable[[], None]) -> tuple[int, bool]:
        """A new slot (local index), to be written; when the arrays are full, ``flush``
        records the pending steps and room is made first (``starts``: the first slots of the
        envs' running episodes). Also returns whether the slots in use moved."""
        moved = self.used == self.capacity
        if moved:
            flush()
            self._make_room(int(starts.min()))
        self.used += 1
        return self.used - 1, moved

    def _add(self, name: str, array: np.ndarray) -> np.ndarray:
        """Make ``array`` the buffer's array ``name``, beside a read-only view of it (slots
        taken from that view are read-only without setting flags on each); return it."""
        self.arrays[name] = array
        self.readonly[name] = array.view()
        self.readonly[name].flags.writeable = False
        return array

    def put_actions(self, slot: int, actions: np.ndarray) -> np.ndarray:
        """Copy a step's actions into ``slot``; a read-only view of them there."""
        array = self.arrays.get("actions")
        if array is None:
            actions = np.asarray(actions)
            array = self._add("actions", np.zeros((self.capacity, *actions.shape),
                                                  dtype=actions.dtype))
        array[slot] = actions
        return self.readonly["actions"][slot]

    def extend(self, batches: dict[str, Any]) -> tuple[int, int]:
        """Record the other arrays of the steps whose rows and actions are written:
        ``batches`` maps each array's name to their per-step batches, oldest first (an array
        named for the first time is zero before them). Returns the local slots [a, b)."""
        a, b = self.recorded, self.used
        for name, batch in batches.items():
            if len(batch) != b - a:
                raise ValueError(f"{len(batch)} steps of {name!r} for {b - a} slots")
            array = self.arrays.get(name)
            if array is None:
                first = np.asarray(batch[0])
                array = self._add(name, np.zeros((self.capacity, *first.shape)))
            block = array[a:b]  # steps joined along the env axis: np.stack is 3x slower
            np.concatenate(batch, out=block.reshape(-1, *block.shape[2:]), casting="same_kind")
        self.recorded = b
        return a, b

    def _make_room(self, keep_from: int) -> None:
        """Drop the slots before ``keep_from`` (all slots recorded); grow when the rest and
        one more slot would fill more than half of the arrays."""
        drop = keep_from - self.base
        keep = self.used - drop
        if keep + 1 > self.capacity // 2:  # long episodes: grow
            while keep + 1 > self.capacity // 2:
                self.capacity *= 2
            for name, array in self.arrays.items():
                new = np.zeros((self.capacity, *array.shape[1:]), dtype=array.dtype)
                new[:keep] = array[drop : self.used]
                self._add(name, new)
        else:
            for array in self.arrays.values():
                array[:keep] = array[drop : self.used].copy()
        self.base += drop
        self.used = self.recorded = keep

    def view(self, name: str, env: int, start: int, stop: int) -> np.ndarray:
        """A read-only view of array ``name`` for env ``env`` over global slots [start, stop),
        valid until the buffer next makes room (``new_slot``)."""
        return self.readonly[name][start - self.base : stop - self.base, env]
