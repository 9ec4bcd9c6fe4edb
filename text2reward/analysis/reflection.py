"""Turn a training's metrics into findings and a compact reflection the designer can act on.

The reflection follows Eureka's reward reflection (every component, the task score and the
episode length at ~10 points over training, with max/mean/min), plus rule-based findings:
constant, dominant or negligible components, episodes ending early, reward rising while the
task score does not (reward hacking), a task score that stopped moving short of the threshold
(stalled), and success reached but lost.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def _series(snapshots: list[dict[str, Any]], key: str, component: bool = False) -> list[float]:
    out = []
    for snap in snapshots:
        source = snap.get("components", {}) if component else snap
        value = source.get(key)
        if value is not None:
            out.append(float(value))
    return out


def _line(name: str, values: list[float]) -> str:
    if not values:
        return f"{name}: no finished episodes"
    shown = ", ".join(f"{v:.3g}" for v in values)
    return (f"{name}: [{shown}], Max: {max(values):.3g}, Mean: {np.mean(values):.3g}, "
            f"Min: {min(values):.3g}")


def _trend(values: list[float]) -> float:
    """Correlation of a series with time (-1..1); 0 when it cannot be told."""
    if len(values) < 3 or np.ptp(values) == 0:
        return 0.0
    return float(np.corrcoef(np.arange(len(values)), values)[0, 1])


def _hacking(snaps: list[dict[str, Any]], scores: list[float], rewards: list[float]) -> str | None:
    """Evidence that the policy optimises the reward against the task, or None.

    Reward hacking shows as the reward (per episode or per step) rising while the task score
    does not, or the task score falling while the reward holds.
    """
    lengths = _series(snaps, "length")
    if len(scores) < 3 or len(rewards) != len(scores) or len(lengths) != len(scores):
        return None
    per_step = [r / max(n, 1.0) for r, n in zip(rewards, lengths, strict=True)]
    score_trend = _trend(scores)
    for name, series in (("episode reward", rewards), ("per-step reward", per_step)):
        rising = _trend(series) > 0.6 and score_trend < 0.2
        holding = score_trend < -0.5 and _trend(series) > -0.2
        if rising or holding:
            return (f"{name} went from {series[0]:.3g} to {series[-1]:.3g} "
                    f"(trend {_trend(series):+.2f}) while the task score went from "
                    f"{scores[0]:.3g} to {scores[-1]:.3g} (trend {score_trend:+.2f})")
    return None


def _stalled(snaps: list[dict[str, Any]], scores: list[float],
             threshold: float | None) -> str | None:
    """Evidence that the task score stopped moving short of the threshold, or None.

    Over the last half of training the score stays below the threshold and moves by less than
    5% of its distance to it: the policy has settled on what this reward pays, and more steps
    of the same reward are unlikely to reach the task (a plateau, not slow progress).
    """
    if threshold is None or len(scores) < 6 or len(scores) != len(snaps):
        return None
    half = len(scores) // 2
    late = scores[half:]
    gap = threshold - float(np.mean(late))
    if max(late) >= threshold or np.ptp(late) > 0.05 * gap:
        return None
    low, high = f"{min(late):.3g}", f"{max(late):.3g}"
    held = f"stayed at {low}" if low == high else f"stayed between {low} and {high}"
    step = snaps[half].get("step")
    since = f" (from step {step:,} on)" if step is not None else ""
    return (f"the task score {held} over the last half of training{since}, {gap:.3g} short of "
            f"the threshold {threshold:g}: the policy settled on behaviour this reward pays "
            "that does not meet the task, so more steps of the same reward are unlikely to "
            "reach it")


def findings(result: dict[str, Any]) -> list[dict[str, Any]]:
    """Ranked findings (most important first), each with its evidence."""
    out: list[dict[str, Any]] = []
    snaps = result.get("snapshots", [])
    final = result.get("eval", {})
    threshold = result.get("threshold")
    comps = final.get("components", {})
    magnitude = {k: abs(v) for k, v in comps.items()}
    total = sum(magnitude.values())
    scores = _series(snaps, "score")
    rewards = _series(snaps, "reward_return")
    solved = threshold is not None and final.get("score", -np.inf) >= threshold
    # the env's own return is no task criterion: a reward that departs from it is no hacking
    hacking = None if result.get("score_kind") == "env-return" else _hacking(snaps, scores,
                                                                               rewards)
    if not solved and hacking:
        out.append({"kind": "reward_hacking", "evidence": hacking})
    stalled = None if solved or hacking or result.get("score_kind") == "env-return" \
        else _stalled(snaps, scores, threshold)
    if stalled:
        out.append({"kind": "stalled", "evidence": stalled})
    if threshold is not None and scores and max(scores) >= threshold and not solved:
        peak = snaps[int(np.argmax(scores))].get("step") if len(scores) == len(snaps) else None
        at = f" at step {peak}" if peak is not None else ""
        out.append({"kind": "unstable", "evidence":
                    f"training episodes (stochastic policy) reached score {max(scores):.3g} "
                    f"(>= {threshold:g}){at}, but the final evaluation (deterministic policy, "
                    f"{final.get('episodes', 0)} episodes) scores {final.get('score', 0):.3g}: "
                    "the behaviour was reached and then lost, or it relies on the policy's "
                    "exploration noise"})
    episodes = final.get("episodes", 0)
    if episodes and final.get("terminated", 0) / episodes > 0.5 and not solved:
        negative = final.get("reward_return", 0.0) < 0
        out.append({"kind": "early_termination", "evidence":
                    f"{final['terminated']} of {episodes} evaluation episodes ended by termination "
                    f"after {final.get('length', 0):.0f} steps on average"
                    + ("; the episode reward is negative, so ending early pays"
                       if negative else "")})
    for name in comps:
        values = _series(snaps, name, component=True)
        if len(values) >= 3 and np.ptp(values) <= 1e-6 * max(1.0, abs(values[0])):
            out.append({"kind": "constant", "component": name,
                        "evidence": f"{name} stayed at {values[0]:.3g} throughout training"})
        elif len(comps) > 1 and total > 0 and magnitude[name] / total > 0.9:
            out.append({"kind": "dominant", "component": name, "evidence":
                        f"{name} is {100 * magnitude[name] / total:.0f}% of the reward's "
                        "magnitude"})
        elif len(comps) > 1 and total > 0 and magnitude[name] / total < 0.02:
            out.append({"kind": "negligible", "component": name, "evidence":
                        f"{name} is {100 * magnitude[name] / total:.1f}% of the reward's "
                        "magnitude"})
    return out


def reflect(result: dict[str, Any]) -> str:
    """The reflection text for the next round's prompt (compact; no success code, no expert)."""
    if result.get("status") != "trained":
        reason = result.get("reason") or "; ".join(result.get("findings", []))
        return f"The program could not be trained: {reason}"
    snaps = result.get("snapshots", [])
    final = result["eval"]
    lines = [f"Training: {result['steps']} steps; values at {len(snaps)} points over training "
             "(per-episode sums):"]
    for name in final.get("components", {}):
        lines.append(_line(name, _series(snaps, name, component=True)))
    env_return = result.get("score_kind") == "env-return"  # no success criterion to report
    lines.append(_line("env_return" if env_return else "task_score", _series(snaps, "score")))
    lines.append(_line("episode_length", _series(snaps, "length")))
    rate = final.get("success_rate")
    lines.append(f"Final policy: {'env return' if env_return else 'task score'} "
                 f"{final.get('score', 0):.3g}"
                 + (f", success rate {rate:.0%}" if rate is not None else "")
                 + f", episode length {final.get('length', 0):.0f}, "
                 f"{final.get('terminated', 0)} of {final.get('episodes', 0)} episodes "
                 "terminated early.")
    if env_return:
        lines.append("(No success criterion is measured for this task: the env's own return "
                     "is reported, and it may reward other behaviour than the task.)")
    found = findings(result)
    if found:
        lines.append("Findings:")
        lines += [f"- {f['kind'].replace('_', ' ')}: {f['evidence']}" for f in found]
    return "\n".join(lines)
