"""Stored trajectories: raw episodes kept from training and evaluation, labelled by the task.

They let a new reward be judged without training (the preference pre-screen) and let rewards
be compared on a shared batch of transitions.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

Raw = dict[str, Any]  # {"obs": (T+1, d), "actions": (T, ...), "score": float, "terminated": bool}


def save_episodes(path: Path, episodes: list[Raw]) -> None:
    """Write raw episodes to one .npz file (atomic)."""
    arrays: dict[str, np.ndarray] = {
        "score": np.array([e["score"] for e in episodes], dtype=np.float64),
        "terminated": np.array([e["terminated"] for e in episodes], dtype=bool),
    }
    for i, e in enumerate(episodes):
        arrays[f"obs_{i}"] = np.asarray(e["obs"], dtype=np.float64)
        arrays[f"actions_{i}"] = np.asarray(e["actions"])
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez_compressed(tmp, **arrays)
    tmp.replace(path)


def load_episodes(path: Path) -> list[Raw]:
    if not path.exists():
        return []
    with np.load(path) as data:
        return [{"obs": data[f"obs_{i}"], "actions": data[f"actions_{i}"],
                 "score": float(score), "terminated": bool(data["terminated"][i])}
                for i, score in enumerate(data["score"])]


class TrajectoryPool:
    """Successful and failed episodes of a run, capped per label, most recent kept."""

    def __init__(self, threshold: float, cap: int = 24):
        self.threshold = threshold
        self.cap = cap
        self.success: list[Raw] = []
        self.failure: list[Raw] = []

    def add(self, episodes: list[Raw]) -> None:
        for e in episodes:
            if len(e["actions"]) == 0:
                continue
            bucket = self.success if e["score"] >= self.threshold else self.failure
            bucket.append(e)
            del bucket[: -self.cap]

    @property
    def ready(self) -> bool:
        """The pre-screen needs at least one success and one failure to compare."""
        return bool(self.success) and bool(self.failure)

    def episodes(self) -> list[Raw]:
        return self.success + self.failure

    def labels(self) -> np.ndarray:
        return np.array([True] * len(self.success) + [False] * len(self.failure))
