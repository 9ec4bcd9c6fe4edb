"""The best reward program of a text2reward run, standalone: it needs numpy and gymnasium
(stable-baselines3 for the VecEnv wrapper, the simulator's package for features read from
the simulator), never text2reward.

    from exported_reward import make_env, make_vec_env

    env = make_env()              # gym.make(ENV_ID, **ENV_KWARGS) in a RewardWrapper
    venv = make_vec_env(n_envs=8) # SB3's make_vec_env(ENV_ID, ...) in a RewardVecEnvWrapper

See README.md next to this package.
"""

import contextlib
import importlib
import io
import warnings
from functools import partial

import gymnasium as gym

from .features import FEATURES, PROBES, extract
from .reward import compute_reward
from .settings import (
    ENV_ID,
    ENV_KWARGS,
    ENV_MODULE,
    ENV_REQUIRES,
    SCORE,
    SOURCE_RUN,
    SUCCESS,
    TASK,
    TRAINING,
)
from .wrappers import RewardWrapper, Simulator, State, batched_reward, with_sim_features

__all__ = ["ENV_ID", "ENV_KWARGS", "FEATURES", "PROBES", "SCORE", "SOURCE_RUN", "SUCCESS", "TASK",
           "TRAINING", "RewardVecEnvWrapper", "RewardWrapper", "Simulator", "State",
           "batched_reward", "compute_reward", "extract", "make_env", "make_vec_env",
           "with_sim_features"]


def _import_env_module():
    """Import the module whose import registers ENV_ID with Gymnasium (quietly: some print)."""
    if ENV_MODULE is None:
        return
    try:
        quiet = io.StringIO()
        with contextlib.redirect_stdout(quiet), contextlib.redirect_stderr(quiet), \
                warnings.catch_warnings():
            warnings.simplefilter("ignore")
            importlib.import_module(ENV_MODULE, __name__)
    except ModuleNotFoundError as exc:
        hint = f"; install it: {ENV_REQUIRES}" if ENV_REQUIRES else ""
        raise ModuleNotFoundError(f"{ENV_ID} needs the module {exc.name!r}{hint}") from exc


_import_env_module()


def make_env(**kwargs):
    """``gym.make(ENV_ID, **ENV_KWARGS, **kwargs)`` with its reward replaced by the program."""
    return RewardWrapper(gym.make(ENV_ID, **{**ENV_KWARGS, **kwargs}))


def make_vec_env(n_envs=None, seed=None, env_kwargs=None, wrapper_class=None,
                 wrapper_kwargs=None, **kwargs):
    """SB3's ``make_vec_env(ENV_ID, ...)`` with ENV_KWARGS (updated by ``env_kwargs``), its
    envs reporting the simulator features the program reads (``with_sim_features``, after
    ``wrapper_class``), in a ``RewardVecEnvWrapper``. ``n_envs`` defaults to the training
    preset's; other keywords (``vec_env_cls``, ...) go to SB3's make_vec_env."""
    from stable_baselines3.common.env_util import make_vec_env as sb3_make_vec_env

    from .vec_env import RewardVecEnvWrapper

    # Always a wrapper from this package: env processes (SubprocVecEnv) then import it, and
    # with it ENV_MODULE, before they make the env.
    wrapper = partial(_prepared, inner=wrapper_class, inner_kwargs=wrapper_kwargs or {})
    venv = sb3_make_vec_env(ENV_ID, n_envs=TRAINING.get("n_envs", 8) if n_envs is None else n_envs,
                            seed=seed, env_kwargs={**ENV_KWARGS, **(env_kwargs or {})},
                            wrapper_class=wrapper, **kwargs)
    return RewardVecEnvWrapper(venv)


def _prepared(env, inner=None, inner_kwargs=None):
    return with_sim_features(env if inner is None else inner(env, **inner_kwargs))


def __getattr__(name):
    if name == "RewardVecEnvWrapper":  # needs stable-baselines3: imported only when asked for
        from .vec_env import RewardVecEnvWrapper

        return RewardVecEnvWrapper
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
