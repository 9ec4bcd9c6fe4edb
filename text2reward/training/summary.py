"""Summaries of finished episodes: what snapshots, evaluations and reflection report."""

from __future__ import annotations

from typing import Any

import numpy as np

from text2reward.training.wrapper import EpisodeStats


def summarise(episodes: list[EpisodeStats], threshold: float | None) -> dict[str, Any]:
    """Mean score, success rate, lengths, env return, component sums and end causes."""
    if not episodes:
        return {"episodes": 0}
    scores = np.array([e.score for e in episodes])
    names = sorted({k for e in episodes for k in e.components})
    return {
        "episodes": len(episodes),
        "score": float(scores.mean()),
        "success_rate": None if threshold is None else float(np.mean(scores >= threshold)),
        "length": float(np.mean([e.length for e in episodes])),
        "env_return": float(np.mean([e.env_return for e in episodes])),
        "reward_return": float(np.mean([e.reward_return for e in episodes])),
        "components": {n: float(np.mean([e.components.get(n, 0.0) for e in episodes]))
                       for n in names},
        "terminated": int(sum(e.terminated for e in episodes)),
        "truncated": int(sum(e.truncated for e in episodes)),
    }
