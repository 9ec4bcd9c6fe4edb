"""Runtime critic: call a program on real state batches from the env and judge what it returns.

Runs inside a sandboxed worker. Batches come from random rollouts of real envs, terminal
states included, so the program meets the states it will meet in training.
"""

from __future__ import annotations

import signal
import threading
import time
from contextlib import contextmanager
import traceback
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np

from text2reward.envs.spec import EnvSpec
from text2reward.envs.state import StateView
from text2reward.program import RewardFault, RewardProgram, validate_output

MAX_MS_PER_CALL = 50.0  # for a batch of 8 envs; training calls it once per vector step
CALL_DEADLINE_S = 2.0  # one call longer than this is stopped and reported


@dataclass
class Verdict:
    """The runtime critic's judgement: accepted or not, and why."""

    accepted: bool
    findings: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    ms_per_call: float | None = None
    transitions: int = 0

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def collect_batches(spec: EnvSpec, env_kwargs: dict, n_envs: int = 8, steps: int = 48, seed: int = 0):
    """Random-action transitions as (obs, action, next_obs) batches of ``n_envs``; terminal
    states included (an env that ends is reset for the next step)."""
    envs = [gym.make(spec.env_id, **env_kwargs) for _ in range(n_envs)]
    obs = np.stack([env.reset(seed=seed + i)[0] for i, env in enumerate(envs)])
    for i, env in enumerate(envs):
        env.action_space.seed(seed + i)
    batches = []
    for _ in range(steps):
        actions = np.stack([env.action_space.sample() for env in envs])
        next_obs, reset_obs = [], []
        for env, action in zip(envs, actions):
            o, _, terminated, truncated, _ = env.step(action)
            next_obs.append(o)
            reset_obs.append(env.reset()[0] if terminated or truncated else o)
        batches.append((obs, actions, np.stack(next_obs)))
        obs = np.stack(reset_obs)
    for env in envs:
        env.close()
    return batches


class CallTimeout(Exception):
    """One call of the program ran past its deadline."""


@contextmanager
def _deadline(seconds: float):
    """Interrupt the program if one call runs longer than ``seconds`` (main thread only)."""
    def alarm(signum, frame):
        raise CallTimeout(f"one call took over {seconds:g} s: an endless loop or a pathological "
                          "cost; compute the reward with vectorised numpy, without loops")

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _call(spec: EnvSpec, program: RewardProgram, obs, actions, next_obs):
    action = np.array(actions)
    action.flags.writeable = False
    state, next_state = StateView.from_obs(spec, obs), StateView.from_obs(spec, next_obs)
    with _deadline(CALL_DEADLINE_S):
        reward, components = program(state, action, next_state)
    validate_output(reward, components, len(obs))
    return reward, {k: np.asarray(v, dtype=np.float64) for k, v in components.items()}


def _describe_exception(exc: BaseException) -> str:
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == "<reward>"]
    where = f" (line {frames[-1].lineno}: {frames[-1].line})" if frames else ""
    if isinstance(exc, ValueError) and "read-only" in str(exc):
        return f"the program writes into its inputs{where}: state, next_state and action are " \
               "read-only; compute into new arrays (np.copy, np.where)"
    return f"{type(exc).__name__}: {exc}{where}"


def runtime_check(spec: EnvSpec, program: RewardProgram, env_kwargs: dict, seed: int = 0) -> Verdict:
    """Judge ``program`` on real batches: shapes, finiteness, signal, determinism, cost."""
    batches = collect_batches(spec, env_kwargs, seed=seed)
    rewards, mismatched = [], 0
    start = time.perf_counter()
    try:
        for obs, actions, next_obs in batches:
            reward, components = _call(spec, program, obs, actions, next_obs)
            rewards.append(reward)
            if components and not np.allclose(sum(components.values()), reward, atol=1e-6):
                mismatched += 1
        elapsed_ms = (time.perf_counter() - start) * 1000 / len(batches)
        again, _ = _call(spec, program, *batches[0])
        whole = [np.concatenate(x) for x in zip(*batches)]
        _call(spec, program, *whole)
    except (RewardFault, CallTimeout) as exc:
        return Verdict(False, [str(exc)])
    except Exception as exc:  # untrusted code: every failure is reported back to the designer
        return Verdict(False, [_describe_exception(exc)])
    verdict = Verdict(True, ms_per_call=elapsed_ms, transitions=len(batches) * len(batches[0][0]))
    values = np.concatenate(rewards)
    if np.ptp(values) == 0:  # legitimate for sparse rewards and survival bonuses, so a warning
        verdict.warnings.append(f"the reward is constant ({values[0]:.4g}) on {values.size} random "
                                "states: it gives no learning signal unless rarely visited states "
                                "or the env's termination make a difference")
    if not np.array_equal(again, rewards[0]):
        verdict.findings.append("the reward is not deterministic: the same transition got "
                                "different rewards")
    if elapsed_ms > MAX_MS_PER_CALL:
        verdict.findings.append(f"one call takes {elapsed_ms:.1f} ms for {len(batches[0][0])} envs "
                                f"(limit {MAX_MS_PER_CALL:.0f} ms): vectorise with numpy")
    if mismatched:
        verdict.warnings.append(f"components do not sum to the reward on {mismatched} of "
                                f"{len(batches)} batches; fine if they combine otherwise")
    verdict.accepted = not verdict.findings
    return verdict


def trajectory_returns(spec: EnvSpec, program: RewardProgram, episodes: list[dict]) -> list[float]:
    """The program's return on each stored episode: one batched call per episode."""
    returns = []
    for ep in episodes:
        obs = ep["obs"]
        reward, _ = _call(spec, program, obs[:-1], ep["actions"], obs[1:])
        returns.append(float(np.sum(reward)))
    return returns
