"""Runtime critic: call a program on real state batches from the env and judge what it returns.

Runs inside a sandboxed worker. Batches come from random rollouts of real envs, terminal
states included, so the program meets the states it will meet in training; probes add states
at the termination limits and observation bounds, where NaN and inf hide (critic/probes.py).
Every finding names the program line, component and state it comes from.
"""

from __future__ import annotations

import hashlib
import signal
import threading
import time
import traceback
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np

from text2reward.critic.probes import Probe, probe_rows, probes
from text2reward.envs.layout import ObsLayout, StateLayout
from text2reward.envs.sim import INFO_KEY, SimFeatures
from text2reward.envs.spec import EnvSpec
from text2reward.envs.state import StateView, state_text
from text2reward.program import NONFINITE_FIX, RewardFault, RewardProgram, validate_output

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


def make_env(spec: EnvSpec, env_kwargs: dict) -> gym.Env:
    env = gym.make(spec.env_id, **env_kwargs)
    return SimFeatures(env, spec.probes) if spec.probes else env


def layout_of(spec: EnvSpec, env: gym.Env) -> StateLayout:
    """The row layout of a made env (call after its first reset)."""
    sim = env.get_wrapper_attr("t2r_layout") if spec.probes else None
    return StateLayout(ObsLayout.from_space(env.observation_space), sim)


def state_row(layout: StateLayout, obs, info: dict) -> np.ndarray:
    flat = layout.obs.flatten_one(obs)
    return flat if layout.sim is None else np.concatenate([flat, info[INFO_KEY]])


def env_layout(spec: EnvSpec, env_kwargs: dict) -> StateLayout:
    """The state-row layout of ``spec``'s env (makes and resets one env)."""
    env = make_env(spec, env_kwargs)
    try:
        env.reset(seed=0)
        return layout_of(spec, env)
    finally:
        env.close()


def collect_batches(spec: EnvSpec, env_kwargs: dict, n_envs: int = 8, steps: int = 48,
                    seed: int = 0) -> tuple[StateLayout, list]:
    """Random-action transitions as (rows, action, next_rows) batches of ``n_envs``; terminal
    states included (an env that ends is reset for the next step). Rows are observations
    followed by the simulator features' vector (envs/layout.py)."""
    envs = [make_env(spec, env_kwargs) for _ in range(n_envs)]
    resets = [env.reset(seed=seed + i) for i, env in enumerate(envs)]
    layout = layout_of(spec, envs[0])
    rows = np.stack([state_row(layout, o, info) for o, info in resets])
    for i, env in enumerate(envs):
        env.action_space.seed(seed + i)
    batches = []
    for _ in range(steps):
        actions = np.stack([env.action_space.sample() for env in envs])
        next_rows, reset_rows = [], []
        for env, action in zip(envs, actions, strict=True):
            o, _, terminated, truncated, info = env.step(action)
            next_rows.append(state_row(layout, o, info))
            reset_rows.append(state_row(layout, *env.reset()) if terminated or truncated
                              else next_rows[-1])
        batches.append((rows, actions, np.stack(next_rows)))
        rows = np.stack(reset_rows)
    for env in envs:
        env.close()
    return layout, batches


class CallTimeout(Exception):
    """One call of the program ran past its deadline."""


@contextmanager
def deadline(seconds: float):
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
    reward, components = _raw_call(spec, layout, program, obs, actions, next_obs)
    validate_output(reward, components, len(obs))
    return reward, {k: np.asarray(v, dtype=np.float64) for k, v in components.items()}


def _raw_call(spec: EnvSpec, layout: StateLayout, program: RewardProgram, obs, actions,
              next_obs):
    action = np.array(actions)
    action.flags.writeable = False
    state = StateView.from_rows(spec, layout, obs)
    next_state = StateView.from_rows(spec, layout, next_obs)
    with deadline(CALL_DEADLINE_S):
        return program(state, action, next_state)


# Exception messages of code that treats a batch as one env, and what to do instead.
_HINTS = (
    ("truth value of an array", "a batch was used as one value (if / and / or / while / max() "
     "on an array): write np.where(condition, a, b), &, | and np.maximum instead"),
    ("arrays can be converted to python scalars", "math.X, float() or int() got a batch: use "
     "np.X, which works element-wise"),
    ("0-dimensional arrays can be converted", "math.X, float() or int() got a batch: use np.X"),
    ("too many indices for array", "a per-env feature has shape (n_envs,): use it directly "
     "instead of x[:, i]"),
    ("could not be broadcast", "arrays of different shapes were combined: scalar features are "
     "(n_envs,), vector features (n_envs, k); reduce vectors with axis=-1 first"),
)


def _describe_exception(exc: BaseException, source: str = "") -> str:
    """The exception, the program line it happened on (with its text) and a fix if known."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == "<reward>"]
    where = ""
    if frames:
        lineno = frames[-1].lineno or 0
        lines = source.splitlines()
        text = lines[lineno - 1].strip() if 0 < lineno <= len(lines) else frames[-1].line
        where = f" (line {lineno}: {text})" if text else f" (line {lineno})"
    if isinstance(exc, ValueError) and "read-only" in str(exc):
        return f"the program writes into its inputs{where}: state, next_state and action are " \
               "read-only; compute into new arrays (np.copy, np.where)"
    message = f"{type(exc).__name__}: {exc}{where}"
    hint = next((h for key, h in _HINTS if key in str(exc).lower()), None)
    return f"{message}; {hint}" if hint else message


def _nonfinite(reward: np.ndarray, components: dict[str, Any]) -> tuple[list[str], int] | None:
    """(components that are NaN/inf, first env where the reward is), or None if all finite."""
    reward = np.asarray(reward, dtype=np.float64)
    bad_rows = np.flatnonzero(~np.isfinite(reward)) if reward.ndim == 1 else []
    names = [k for k, v in components.items()
             if not np.all(np.isfinite(np.asarray(v, dtype=np.float64)))]
    if not len(bad_rows) and not names:
        return None
    return names, int(bad_rows[0]) if len(bad_rows) else 0


def _check_batch(spec: EnvSpec, layout: StateLayout, program: RewardProgram, batch,
                 where: str | Callable[[int], str] = "") -> tuple[np.ndarray, dict] | str:
    """Call on one batch: (reward, components), or a message naming what went wrong.
    ``where`` says which states these are (a function of the row for probes)."""
    obs, actions, next_obs = batch
    place = where if callable(where) else (lambda row: where)
    try:
        reward, components = _raw_call(spec, layout, program, obs, actions, next_obs)
        shapes_only = {k: np.asarray(v) for k, v in components.items()}
        validate_output(np.asarray(reward), shapes_only, len(obs), finite=False)
    except (RewardFault, CallTimeout) as exc:
        return str(exc)
    except Exception as exc:  # untrusted code: every failure is reported back to the designer
        return _describe_exception(exc, program.source) + place(-1)
    bad = _nonfinite(reward, components)
    if bad is not None:
        names, row = bad
        what = (f"component{'s' if len(names) > 1 else ''} {', '.join(map(repr, names))}"
                if names else "the reward")
        return (f"{what} {'are' if len(names) > 1 else 'is'} NaN or inf{place(row)} "
                f"(next_state: {state_text(spec, layout, next_obs, row)}); {NONFINITE_FIX}")
    return reward, {k: np.asarray(v, dtype=np.float64) for k, v in components.items()}


def _probe(spec: EnvSpec, layout: StateLayout, program: RewardProgram, batch,
           bounds) -> list[str]:
    """Findings at the termination limits and observation bounds (one per feature). Each
    probe is one batch: the first state, next states with one feature set to each value."""
    findings = []
    obs, actions, _ = batch
    for probe in probes(spec, layout, *bounds):
        if len(probe.values) < 2:  # a batch of one row would hide shape mistakes
            probe.values, probe.why = probe.values * 2, probe.why * 2
        n = len(probe.values)
        rows = np.repeat(obs[:1], n, axis=0)
        acts = np.repeat(np.asarray(actions)[:1], n, axis=0)

        def where(row: int, probe: Probe = probe) -> str:
            if row < 0:
                return f" (with next_state.{probe.feature} at its limits)"
            return f" when next_state.{probe.feature} = {probe.values[row]:g}, {probe.why[row]}"

        checked = _check_batch(spec, layout, program, (rows, acts, probe_rows(probe, obs)),
                               where)
        if isinstance(checked, str):
            findings.append(checked)
    return findings


def runtime_check(spec: EnvSpec, program: RewardProgram, env_kwargs: dict,
                  seed: int = 0) -> Verdict:
    """Judge ``program`` on real batches and on probes at the termination limits and
    observation bounds: shapes, finiteness, signal, determinism, cost. Every finding is
    listed, not only the first."""
    layout, batches = collect_batches(spec, env_kwargs, seed=seed)
    findings: list[str] = []
    rewards, mismatched = [], 0
    start = time.perf_counter()
    for batch in batches:
        checked = _check_batch(spec, layout, program, batch)
        if isinstance(checked, str):
            findings.append(checked)
            break
        reward, components = checked
        rewards.append(reward)
        if components and not np.allclose(sum(components.values()), reward, atol=1e-6):
            mismatched += 1
    elapsed_ms = (time.perf_counter() - start) * 1000 / max(len(rewards), 1)
    if not findings:  # an exception would only repeat itself on the probes
        whole = [np.concatenate(x) for x in zip(*batches, strict=True)]
        checked = _check_batch(spec, layout, program, whole, " on the batch of every env")
        if isinstance(checked, str):
            findings.append(checked)
        findings += _probe(spec, layout, program, batches[0], _obs_bounds(spec, env_kwargs))
    if findings:
        return Verdict(False, findings)
    verdict = Verdict(True, ms_per_call=elapsed_ms, transitions=len(batches) * len(batches[0][0]))
    values = np.concatenate(rewards)
    verdict.signature = reward_signature(values)  # every check of a run sees the same ones
    if np.ptp(values) == 0:  # legitimate for sparse rewards and survival bonuses, so a warning
        verdict.warnings.append(f"the reward is constant ({values[0]:.4g}) on {values.size} random "
                                "states: it gives no learning signal unless rarely visited states "
                                "or the env's termination make a difference")
    again = _check_batch(spec, layout, program, batches[0])
    if isinstance(again, str) or not np.array_equal(again[0], rewards[0]):
        verdict.findings.append("the reward is not deterministic: the same transition got "
                                "different rewards (a reward must be a pure function of state, "
                                "action and next_state)")
    if elapsed_ms > MAX_MS_PER_CALL:
        verdict.findings.append(f"one call takes {elapsed_ms:.1f} ms for {len(batches[0][0])} envs "
                                f"(limit {MAX_MS_PER_CALL:.0f} ms): vectorise with numpy")
    if mismatched:
        verdict.warnings.append(f"components do not sum to the reward on {mismatched} of "
                                f"{len(batches)} batches; fine if they combine otherwise")
    verdict.accepted = not verdict.findings
    return verdict


def _obs_bounds(spec: EnvSpec, env_kwargs: dict) -> tuple[np.ndarray | None, np.ndarray | None]:
    """The flat observation space's bounds (None for other spaces)."""
    env = gym.make(spec.env_id, **env_kwargs)
    try:
        space = env.observation_space
        if isinstance(space, gym.spaces.Box) and len(space.shape) == 1:
            return np.asarray(space.low, np.float64), np.asarray(space.high, np.float64)
        return None, None
    finally:
        env.close()


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
