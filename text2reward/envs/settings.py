"""Env settings of a run: ``--env-kwargs KEY:VALUE`` (as rl-zoo3 takes them), checked once.

The settings are keyword arguments of ``gym.make``. A run's settings go on top of the spec's
and the curated task's (``EnvSpec.env_kwargs``) and are used wherever the env is made:
training, evaluation, the runtime critic, the pre-screen, rollouts, export and ``train``.
"""

from __future__ import annotations

import ast
import inspect
import re
from collections.abc import Iterable
from typing import Any

from text2reward.errors import UsageError

_UNEXPECTED = re.compile(r"unexpected keyword argument '([^']+)'")
GYM_MAKE_KWARGS = ("max_episode_steps", "disable_env_checker")  # gym.make's own, besides the env's


def parse_env_kwargs(items: Iterable[str]) -> dict[str, Any]:
    """``["terminate_when_unhealthy:False", "frame_skip:5"]`` -> a dict; values are Python
    literals (``ast.literal_eval``), so strings are quoted: ``xml_file:"'my.xml'"``."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition(":")
        key = key.strip()
        if not sep or not key.isidentifier():
            raise UsageError(f"--env-kwargs {item!r}: write KEY:VALUE, "
                             "e.g. --env-kwargs terminate_when_unhealthy:False")
        try:
            out[key] = ast.literal_eval(text.strip())
        except (ValueError, SyntaxError):
            raise UsageError(f"--env-kwargs {item!r}: {text.strip()!r} is not a Python literal "
                             f"(True, 0.5, (1, 2), ...); quote a string: {key}:\"'{text.strip()}'\""
                             ) from None
    return out


def check_kwargs_mapping(value: Any, where: str = "env_kwargs") -> dict[str, Any]:
    """A config file's ``env_kwargs``: a mapping of identifiers to values."""
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(k, str) and k.isidentifier()
                                               for k in value):
        raise UsageError(f"{where} must be a mapping of keyword: value, got {value!r}")
    return dict(value)


def accepted_kwargs(env_id: str) -> list[str]:
    """The keyword arguments ``env_id``'s constructor names (empty when it cannot be told)."""
    import gymnasium as gym
    from gymnasium.envs.registration import load_env_creator

    try:
        entry = gym.spec(env_id).entry_point
        creator = load_env_creator(entry) if isinstance(entry, str) else entry
        params = inspect.signature(creator).parameters.values()
    except Exception:  # an entry point that cannot be inspected: no list (the key is named)
        return []
    names = [p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
             and p.name != "self"]
    return names + [n for n in GYM_MAKE_KWARGS if n not in names]


def check_env_kwargs(env_id: str, base: dict[str, Any], extra: dict[str, Any]) -> None:
    """Make ``env_id`` once with ``base`` + ``extra``, reset it and take one step; a bad
    keyword or value is one line.

    Settings that change the observation or action space are refused: the env's abstraction
    (its named features and action text) describes the spaces of the default settings."""
    import gymnasium as gym

    if not extra:
        return
    shown = ", ".join(f"{k}:{v!r}" for k, v in extra.items())
    try:
        env = gym.make(env_id, **{**base, **extra})
        try:
            env.reset(seed=0)
            env.step(env.action_space.sample())
        except Exception:
            env.close()
            raise
    except TypeError as exc:
        match = _UNEXPECTED.search(str(exc))
        accepted = accepted_kwargs(env_id)
        listed = f"; {env_id} accepts: {', '.join(accepted)}" if accepted else ""
        if match:
            raise UsageError(f"--env-kwargs: {env_id} has no setting {match.group(1)!r}{listed}"
                             ) from None
        raise UsageError(f"--env-kwargs {shown}: {env_id} refused them: {exc}{listed}") from None
    except Exception as exc:  # a bad value: the env's own words
        raise UsageError(f"--env-kwargs {shown}: {env_id} cannot be made with them: "
                         f"{type(exc).__name__}: {exc}") from None
    try:
        default = gym.make(env_id, **base)
        try:
            for what in ("observation_space", "action_space"):
                now, before = getattr(env, what), getattr(default, what)
                if now != before:
                    raise UsageError(f"--env-kwargs {shown} change the {what.replace('_', ' ')} "
                                     f"({before} -> {now}); text2reward describes {env_id} with "
                                     "its default spaces, so these settings cannot be used")
        finally:
            default.close()
    finally:
        env.close()

