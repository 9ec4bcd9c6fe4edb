"""Runtime check of a proposed success file, inside a locked-down worker (job kind "success").

Random-action episodes of the env are collected first (the env is trusted code); then the
worker is locked down and only then is the proposal loaded and called on every episode: each
call must return a finite float within a time limit.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from text2reward.envs.spec import EnvSpec
from text2reward.envs.state import Episode

EPISODES = 3
MAX_STEPS = 1000  # per random episode; longer ones are cut (and marked truncated)
CALL_S = 5.0


def random_episodes(spec: EnvSpec, env_kwargs: dict, n: int = EPISODES,
                    seed: int = 0) -> list[Episode]:
    """``n`` episodes of uniformly random actions, as a success function receives them."""
    from text2reward.critic.runtime import layout_of, make_env, state_row

    episodes = []
    for i in range(n):
        env = make_env(spec, env_kwargs)
        try:
            obs, info = env.reset(seed=seed + i)
            env.action_space.seed(seed + i)
            layout = layout_of(spec, env)
            rows, actions, rewards = [state_row(layout, obs, info)], [], []
            terminated = truncated = False
            while not (terminated or truncated) and len(actions) < MAX_STEPS:
                action = env.action_space.sample()
                obs, reward, terminated, truncated, info = env.step(action)
                rows.append(state_row(layout, obs, info))
                actions.append(action)
                rewards.append(float(reward))
            truncated = truncated or not terminated
        finally:
            env.close()
        episodes.append(Episode.from_arrays(spec, np.stack(rows), np.stack(actions),
                                            np.asarray(rewards), bool(terminated),
                                            bool(truncated), layout))
    return episodes


def score_episodes(source: str, episodes: list[Episode]) -> tuple[list[float], list[str]]:
    """Load the proposal (statically checked again) and score every episode; the scores and
    the findings (empty when accepted)."""
    from text2reward.critic.runtime import deadline
    from text2reward.program import RejectedProgram
    from text2reward.training.scoring import load_proposed

    try:
        score = load_proposed(source, "<success>")
    except RejectedProgram as exc:
        return [], [str(f) for f in exc.findings]
    except Exception as exc:  # untrusted: a failure while loading is a rejection
        return [], [f"loading the success file failed: {type(exc).__name__}: {exc}"]
    scores, findings = [], []
    for i, episode in enumerate(episodes):
        where = (f"on random episode {i + 1} ({episode.length} steps, "
                 f"{'terminated' if episode.terminated else 'truncated'})")
        try:
            with deadline(CALL_S):
                value = score(episode)
        except Exception as exc:
            findings.append(f"score(episode) raised {type(exc).__name__}: {exc} {where}")
            continue
        if isinstance(value, bool) or not isinstance(value, int | float | np.number) \
                or (isinstance(value, np.ndarray) and value.size != 1):
            findings.append(f"score(episode) returned {type(value).__name__}, not a float, "
                            f"{where}; return float(...)")
            continue
        if not math.isfinite(float(value)):
            findings.append(f"score(episode) returned {float(value)} {where}; it must be finite")
            continue
        scores.append(float(value))
    return scores, findings


def success_check(spec: EnvSpec, env_kwargs: dict, job: Any) -> dict[str, Any]:
    """The worker's "success" job: random episodes, lock-down, then the proposal on them."""
    from text2reward.sandbox.lockdown import lock_down

    episodes = random_episodes(spec, env_kwargs, seed=job.seed)
    source = Path(job.program_path).read_text()
    applied = lock_down(cpu_seconds=int(job.timeout_s) + 30, scratch=job.out_dir)
    scores, findings = score_episodes(source, episodes)
    return {"status": "rejected" if findings else "accepted", "findings": findings,
            "scores": scores, "lengths": [e.length for e in episodes], "sandbox": applied}
