"""Runtime critic: call a program on real state batches from the env and judge what it returns.

Runs inside a sandboxed worker. Batches come from random rollouts of real envs, terminal
states included, so the program meets the states it will meet in training.
"""

from __future__ import annotations

import hashlib
import signal
import threading
import time
import traceback
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np

from text2reward.envs.layout import ObsLayout, StateLayout
from text2reward.envs.sim import INFO_KEY, SimFeatures
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
    signature: str | None = None  # reward_signature on the shared transitions

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def reward_signature(values: np.ndarray) -> str:
    """A key equal for two rewards exactly when one is a positive multiple of the other on the
    same transitions (to 9 significant digits of the largest magnitude). Such rewards have the
    same optimal policies whatever the discount and termination; an added constant does not
    (it pays for living or for dying early), nor does another order-preserving transform."""
    values = np.asarray(values, dtype=np.float64)
    scale = float(np.max(np.abs(values))) if values.size else 0.0
    normalised = np.round(values / (scale or 1.0), 9) + 0.0  # + 0.0: no negative zeros
    return hashlib.sha256(normalised.tobytes()).hexdigest()[:16]


def _make_env(spec: EnvSpec, env_kwargs: dict) -> gym.Env:
    env = gym.make(spec.env_id, **env_kwargs)
    return SimFeatures(env, spec.probes) if spec.probes else env


def _layout(spec: EnvSpec, env: gym.Env) -> StateLayout:
    """The row layout of a made env (call after its first reset)."""
    sim = env.get_wrapper_attr("t2r_layout") if spec.probes else None
    return StateLayout(ObsLayout.from_space(env.observation_space), sim)


def _row(layout: StateLayout, obs, info: dict) -> np.ndarray:
    flat = layout.obs.flatten_one(obs)
    return flat if layout.sim is None else np.concatenate([flat, info[INFO_KEY]])


def env_layout(spec: EnvSpec, env_kwargs: dict) -> StateLayout:
    """The state-row layout of ``spec``'s env (makes and resets one env)."""
    env = _make_env(spec, env_kwargs)
    try:
        env.reset(seed=0)
        return _layout(spec, env)
    finally:
        env.close()


def collect_batches(spec: EnvSpec, env_kwargs: dict, n_envs: int = 8, steps: int = 48,
                    seed: int = 0) -> tuple[StateLayout, list]:
    """Random-action transitions as (rows, action, next_rows) batches of ``n_envs``; terminal
    states included (an env that ends is reset for the next step). Rows are observations
    followed by the simulator features' vector (envs/layout.py)."""
    envs = [_make_env(spec, env_kwargs) for _ in range(n_envs)]
    resets = [env.reset(seed=seed + i) for i, env in enumerate(envs)]
    layout = _layout(spec, envs[0])
    rows = np.stack([_row(layout, o, info) for o, info in resets])
    for i, env in enumerate(envs):
        env.action_space.seed(seed + i)
    batches = []
    for _ in range(steps):
        actions = np.stack([env.action_space.sample() for env in envs])
        next_rows, reset_rows = [], []
        for env, action in zip(envs, actions, strict=True):
            o, _, terminated, truncated, info = env.step(action)
            next_rows.append(_row(layout, o, info))
            reset_rows.append(_row(layout, *env.reset()) if terminated or truncated
                              else next_rows[-1])
        batches.append((rows, actions, np.stack(next_rows)))
        rows = np.stack(reset_rows)
    for env in envs:
        env.close()
    return layout, batches


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


def _call(spec: EnvSpec, layout: StateLayout, program: RewardProgram, obs, actions, next_obs):
    action = np.array(actions)
    action.flags.writeable = False
    state = StateView.from_rows(spec, layout, obs)
    next_state = StateView.from_rows(spec, layout, next_obs)
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


def runtime_check(spec: EnvSpec, program: RewardProgram, env_kwargs: dict,
                  seed: int = 0) -> Verdict:
    """Judge ``program`` on real batches: shapes, finiteness, signal, determinism, cost."""
    layout, batches = collect_batches(spec, env_kwargs, seed=seed)
    rewards, mismatched = [], 0
    start = time.perf_counter()
    try:
        for obs, actions, next_obs in batches:
            reward, components = _call(spec, layout, program, obs, actions, next_obs)
            rewards.append(reward)
            if components and not np.allclose(sum(components.values()), reward, atol=1e-6):
                mismatched += 1
        elapsed_ms = (time.perf_counter() - start) * 1000 / len(batches)
        again, _ = _call(spec, layout, program, *batches[0])
        whole = [np.concatenate(x) for x in zip(*batches, strict=True)]
        _call(spec, layout, program, *whole)
    except (RewardFault, CallTimeout) as exc:
        return Verdict(False, [str(exc)])
    except Exception as exc:  # untrusted code: every failure is reported back to the designer
        return Verdict(False, [_describe_exception(exc)])
    verdict = Verdict(True, ms_per_call=elapsed_ms, transitions=len(batches) * len(batches[0][0]))
    values = np.concatenate(rewards)
    verdict.signature = reward_signature(values)  # every check of a run sees the same ones
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


def trajectory_returns(spec: EnvSpec, program: RewardProgram, episodes: list[dict],
                       layout: StateLayout) -> list[float]:
    """The program's return on each stored episode (its state rows under "obs"): one batched
    call per episode. ``layout``: the rows' layout (``env_layout``: the observation, then the
    simulator vector of the spec's probes)."""
    returns = []
    for ep in episodes:
        obs = ep["obs"]
        reward, _ = _call(spec, layout, program, obs[:-1], ep["actions"], obs[1:])
        returns.append(float(np.sum(reward)))
    return returns
