"""Trajectory preference pre-screen (as CARD's TPE) and reward comparison on shared episodes.

A reward whose returns do not rank stored successful episodes above failed ones would teach
the agent to fail, so it is rejected before any training is spent, and the offending pair is
shown to the designer. Correlations with the task score and the expert reward are reported to
the user only.
"""

from __future__ import annotations

from typing import Any

import numpy as np

DEFAULT_MIN_ACCURACY = 0.8


def _describe(kind: str, episode: dict[str, Any], ret: float) -> str:
    length = len(episode["actions"])
    end = "ended by termination" if episode["terminated"] else "ran to the time limit"
    return (f"{kind} episode (task score {episode['score']:.3g}, {length} steps, {end}) "
            f"gets return {ret:.4g}")


def judge(returns: list[float], episodes: list[dict[str, Any]], labels: np.ndarray,
          min_accuracy: float = DEFAULT_MIN_ACCURACY) -> dict[str, Any]:
    """Does the reward's episode return rank successes above failures often enough?"""
    returns_arr = np.asarray(returns, dtype=np.float64)
    succ, fail = returns_arr[labels], returns_arr[~labels]
    accuracy = float(np.mean(succ[:, None] > fail[None, :]))
    verdict: dict[str, Any] = {"accuracy": accuracy, "passed": accuracy >= min_accuracy,
                               "successes": int(succ.size), "failures": int(fail.size)}
    if not verdict["passed"]:
        s_idx = np.flatnonzero(labels)[int(np.argmin(succ))]
        f_idx = np.flatnonzero(~labels)[int(np.argmax(fail))]
        verdict["message"] = (
            f"on stored episodes the reward ranks success above failure in only "
            f"{accuracy:.0%} of pairs (needs {min_accuracy:.0%}): a "
            f"{_describe('successful', episodes[s_idx], returns_arr[s_idx])}, but a "
            f"{_describe('failed', episodes[f_idx], returns_arr[f_idx])}. Training on it would "
            "teach the agent to fail: make the behaviour that succeeds earn more over an episode "
            "(mind episode length and the sign of per-step rewards)."
        )
    return verdict


def _ranks(x: np.ndarray) -> np.ndarray:
    order = np.argsort(x, kind="stable")
    ranks = np.empty(len(x))
    ranks[order] = np.arange(len(x))
    return ranks


def spearman(a: list[float], b: list[float]) -> float | None:
    """Rank correlation of two series; None when either is constant or too short."""
    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if len(x) < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return None
    return float(np.corrcoef(_ranks(x), _ranks(y))[0, 1])
