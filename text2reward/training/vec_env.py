"""The in-process vector env of text2reward's trainings: SB3's DummyVecEnv, minus its deep copies.

SB3's ``DummyVecEnv.step_wait`` returns ``deepcopy`` of the envs' info dicts and observation
buffer on every vector step. The deep copy of the infos is the expensive one: HalfCheetah's
info holds four numpy scalars, and deep-copying 16 of them took 51 us per vector step here,
about as long as the whole reward program path, against 1.4 us for a shallow copy of each
dict. This subclass copies each info dict once, before anything is added to it, so the caller
gets dicts that neither the env nor the next step will change. Terminal observations are
copied too. Everything else is SB3's.
"""

from __future__ import annotations

from copy import deepcopy

import numpy as np
from stable_baselines3.common.vec_env import DummyVecEnv as SB3DummyVecEnv
from stable_baselines3.common.vec_env.base_vec_env import VecEnvObs, VecEnvStepReturn
from stable_baselines3.common.vec_env.util import dict_to_obs


class DummyVecEnv(SB3DummyVecEnv):
    """SB3's DummyVecEnv whose steps copy infos and observations shallowly."""

    def step_wait(self) -> VecEnvStepReturn:
        for i, env in enumerate(self.envs):
            obs, self.buf_rews[i], terminated, truncated, info = env.step(self.actions[i])
            info = dict(info)  # the env may hand out the same dict again
            done = terminated or truncated
            self.buf_dones[i] = done
            info["TimeLimit.truncated"] = truncated and not terminated
            if done:  # keep the final observation, then reset (as SB3 does)
                info["terminal_observation"] = deepcopy(obs)
                obs, self.reset_infos[i] = env.reset()
            self.buf_infos[i] = info
            self._save_obs(i, obs)
        return (self._obs_from_buf(), np.copy(self.buf_rews), np.copy(self.buf_dones),
                list(self.buf_infos))

    def _obs_from_buf(self) -> VecEnvObs:
        return dict_to_obs(self.observation_space,
                           {key: array.copy() for key, array in self.buf_obs.items()})
