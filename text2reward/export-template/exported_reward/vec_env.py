"""An SB3 VecEnvWrapper: the reward replaced, one program call per vector step."""

import numpy as np
from stable_baselines3.common.vec_env import VecEnvWrapper

from .features import PROBES
from .sim import INFO_KEY, SimFeatures
from .wrappers import Simulator, batched_reward, copy_batch, obs_keys, with_sim_features


class RewardVecEnvWrapper(VecEnvWrapper):
    """One ``compute_reward`` call per vector step for all envs.

    For envs that finished, the transition ends at ``info["terminal_observation"]`` (SB3
    resets them automatically). Each info gets ``env_reward`` and ``reward_components``.

    Features read from the simulator come in the envs' infos (``with_sim_features``): envs
    of a DummyVecEnv are wrapped here if they are not yet; other vector envs (SubprocVecEnv)
    must be made with ``wrapper_class=with_sim_features`` (as ``make_vec_env`` does). Wrap
    the plain vector env: the program reads the env's own observations, not normalised ones.
    """

    def __init__(self, venv):
        super().__init__(venv)
        self._keys = obs_keys(venv.observation_space)
        self._layout = None
        if PROBES:
            _add_sim_features(venv)

    def reset(self):
        obs = self.venv.reset()
        sim = None
        if PROBES:
            self._layout = self.venv.get_attr("t2r_layout", [0])[0]
            sim = self._sim(self.venv.unwrapped.reset_infos)
        self._state = (copy_batch(obs, self._keys), sim)
        return obs

    def step_async(self, actions):
        self._actions = np.array(actions)
        self.venv.step_async(actions)

    def step_wait(self):
        obs, env_rewards, dones, infos = self.venv.step_wait()
        finished = np.flatnonzero(dones)
        next_obs = copy_batch(obs, self._keys)
        for i in finished:
            terminal = infos[i]["terminal_observation"]
            if self._keys is None:
                next_obs[i] = terminal
            else:
                for k in self._keys:
                    next_obs[k][i] = terminal[k]
        next_sim = self._sim(infos) if PROBES else None  # a finished env's: its terminal state
        reward, components = batched_reward(self._state[0], self._actions, next_obs,
                                            self._state[1], next_sim)
        for i, info in enumerate(infos):
            info["env_reward"] = float(env_rewards[i])
            info["reward_components"] = {k: float(v[i]) for k, v in components.items()}
        sim = next_sim
        if PROBES and len(finished):  # finished envs are in the first state of a new episode
            vectors = next_sim.vectors.copy()
            resets = self.venv.unwrapped.reset_infos
            for i in finished:
                vectors[i] = resets[i][INFO_KEY]
            sim = Simulator(vectors, self._layout)
        self._state = (copy_batch(obs, self._keys), sim)
        return obs, reward.astype(np.float32), dones, infos

    def _sim(self, infos):
        try:
            return Simulator(np.stack([info[INFO_KEY] for info in infos]), self._layout)
        except KeyError:
            raise RuntimeError("the envs report no simulator features: make them with "
                               "wrapper_class=with_sim_features") from None


def _add_sim_features(venv):
    """Wrap the envs of an in-process vector env in ``with_sim_features`` where they are not."""
    wrapped = venv.env_is_wrapped(SimFeatures)
    if all(wrapped):
        return
    envs = getattr(venv.unwrapped, "envs", None)
    if envs is None:
        raise ValueError("the reward reads simulator features, which envs in other processes "
                         "report only when made with wrapper_class=with_sim_features (from "
                         "this package); or use this package's make_vec_env")
    for i, done in enumerate(wrapped):
        if not done:
            envs[i] = with_sim_features(envs[i])
