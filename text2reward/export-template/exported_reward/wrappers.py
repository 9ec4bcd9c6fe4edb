"""A Gymnasium wrapper that replaces an env's reward with the exported reward program, and
the read-only states the program reads.

The program follows text2reward's batched contract: ``compute_reward(state, action,
next_state)`` with read-only named features whose first axis is the batch, returning
``(reward of shape (n,), {component: (n,)})``. A single env is a batch of one.

A state is an observation batch and, when the program's features read the simulator, the
simulator vectors of the same states (a ``Simulator``): the raw arrays the probes need,
copied from ``env.unwrapped`` after each reset and step (``sim.Gatherer``), exactly as
text2reward gathered them in training.
"""

from functools import cache

import gymnasium as gym
import numpy as np

from .features import COMPUTE, PROBES, observation_columns
from .reward import compute_reward
from .sim import Gatherer, Probe, SimFeatures
from .views import ObsView, _frozen

_probe = cache(Probe.parse)


def with_sim_features(env):
    """``env`` reporting, in ``info["t2r_sim"]`` of every reset and step, the simulator vector
    of the probes the features read (a terminal step's info: the terminal state); ``env``
    itself when no feature reads the simulator. Use it as SB3's ``wrapper_class`` for envs
    in other processes (SubprocVecEnv)."""
    return SimFeatures(env, [_probe(p) for p in PROBES]) if PROBES else env


class Simulator:
    """Simulator vectors of a batch of states (n, size) and where each probe reads them."""

    __slots__ = ("layout", "vectors")

    def __init__(self, vectors, layout):
        self.vectors = np.asarray(vectors, dtype=np.float64)
        self.layout = layout  # a sim.SimLayout, from the env after its first reset

    def probe(self, text):
        """The value of probe ``text`` (``"qpos:rootx"``, ``"pos:foot:z"``, ...) per state."""
        return self.layout.evaluate(_probe(text), self.vectors)


class State:
    """Read-only named features of a batch of states, computed on first access.

    ``obs``: a batch of observations (an array, or a dict of arrays by key); ``sim``: their
    ``Simulator``, for features read from the simulator. ``state.obs`` is the observation
    batch as float64 (a dict observation: one attribute per numeric key).
    """

    def __init__(self, obs, sim=None):
        values = self.__dict__
        values["_obs"] = obs
        values["_columns"] = observation_columns(obs)  # float64 copies
        values["_sim"] = sim

    def __getattr__(self, name):
        # Only called for names not in the instance dict yet: computes and keeps the feature.
        if name.startswith("_"):
            raise AttributeError(name)
        if name == "obs":
            value = _observation(self._columns, self._obs)
        elif name in COMPUTE:
            value = np.asarray(COMPUTE[name](self._columns, self._sim))
            value = _frozen(value) if value.flags.writeable else value
        else:
            raise AttributeError(f"state has no feature {name!r}; features: "
                                 f"{', '.join(sorted(self.__dir__()))}")
        self.__dict__[name] = value
        return value

    def __setattr__(self, name, value):
        raise AttributeError("states are read-only")

    def __delattr__(self, name):
        raise AttributeError("states are read-only")

    def __dir__(self):
        return sorted([*COMPUTE, "obs"])


def _observation(columns, obs):
    """``state.obs``: the observation batch as float64, in its own shape."""
    if isinstance(columns, dict):
        return ObsView({k: v.reshape(len(v), *np.shape(obs[k])[1:]) for k, v in columns.items()})
    return _frozen(columns.reshape(len(columns), *np.shape(obs)[1:]))


def batched_reward(obs, action, next_obs, sim=None, next_sim=None):
    """Rewards (n,) and components {name: (n,)} of a batch of transitions: observation
    batches and, for features read from the simulator, their ``Simulator``s."""
    action = np.array(action)
    action.flags.writeable = False
    next_state = State(next_obs, next_sim)
    reward, components = compute_reward(State(obs, sim), action, next_state)
    reward = np.asarray(reward, dtype=np.float64)
    n = len(action)
    if reward.shape != (n,):
        raise ValueError(f"reward has shape {reward.shape}, expected ({n},)")
    return reward, {k: np.asarray(v, dtype=np.float64) for k, v in components.items()}


def obs_keys(space):
    """The keys of a dict observation space that states keep (its numeric ones, in order);
    None for other spaces."""
    if not isinstance(space, gym.spaces.Dict):
        return None
    numeric = (gym.spaces.Box, gym.spaces.Discrete, gym.spaces.MultiDiscrete,
               gym.spaces.MultiBinary)
    return [k for k, s in space.spaces.items() if isinstance(s, numeric)]


def copy_batch(obs, keys):
    """A copy of an observation batch (a dict one: its ``keys`` only)."""
    if keys is None:
        return np.array(obs)
    return {k: np.array(obs[k]) for k in keys}


class RewardWrapper(gym.Wrapper):
    """Replace each step's reward with the program's.

    ``info["env_reward"]`` keeps the env's own reward and ``info["reward_components"]`` the
    program's components. Termination and truncation are the env's, unchanged.
    """

    def __init__(self, env):
        super().__init__(env)
        self._keys = obs_keys(env.observation_space)
        self._gatherer = Gatherer(env, [_probe(p) for p in PROBES]) if PROBES else None
        self._layout = None
        self._state = None

    def reset(self, **kwargs):
        obs, info = self.env.reset(**kwargs)
        if self._gatherer is not None and self._layout is None:
            self._layout = self._gatherer.layout()
        self._state = self._capture(obs)
        return obs, info

    def step(self, action):
        if self._state is None:
            raise RuntimeError("call reset() before step()")
        obs, env_reward, terminated, truncated, info = self.env.step(action)
        state = self._capture(obs)
        reward, components = batched_reward(self._state[0], np.asarray(action)[None], state[0],
                                            self._state[1], state[1])
        self._state = state
        info = {**info, "env_reward": env_reward,
                "reward_components": {k: float(v[0]) for k, v in components.items()}}
        return obs, float(reward[0]), terminated, truncated, info

    def _capture(self, obs):
        """The current state as a batch of one: its observation and simulator vector."""
        if self._keys is None:
            batch = np.array(obs)[None]
        else:
            batch = {k: np.array(obs[k])[None] for k in self._keys}
        if self._gatherer is None:
            return batch, None
        return batch, Simulator(self._gatherer.gather()[None], self._layout)
