"""text2reward's DummyVecEnv steps exactly as SB3's, without deep copies of the infos."""

import gymnasium as gym
import numpy as np
from stable_baselines3.common.env_util import make_vec_env as sb3_make_vec_env
from stable_baselines3.common.vec_env import DummyVecEnv as SB3DummyVecEnv

from text2reward.envs.spec import load_spec
from text2reward.training.trainer import make_vec_env
from text2reward.training.vec_env import DummyVecEnv


def test_trainings_step_in_the_shallow_copying_dummy_vec_env():
    venv = make_vec_env(load_spec("CartPole-v1"), {}, 2, 0, "dummy")
    assert type(venv) is DummyVecEnv and isinstance(venv, SB3DummyVecEnv)


def test_steps_match_sb3s_dummy_vec_env_including_resets():
    """The same Monitor-wrapped envs as SB3's make_vec_env makes, in either vector env."""
    theirs = sb3_make_vec_env("CartPole-v1", 4, seed=3)
    ours = sb3_make_vec_env("CartPole-v1", 4, seed=3, vec_env_cls=DummyVecEnv)
    assert type(ours) is DummyVecEnv
    np.testing.assert_array_equal(ours.reset(), theirs.reset())
    rng = np.random.default_rng(0)
    finished = 0
    for _ in range(300):
        actions = rng.integers(0, 2, size=4)
        mine, sb3 = ours.step(actions), theirs.step(actions)
        for a, b in zip(mine[:3], sb3[:3], strict=True):
            np.testing.assert_array_equal(a, b)
            assert a.dtype == b.dtype
        for a, b in zip(mine[3], sb3[3], strict=True):
            assert a.keys() == b.keys()
            for key in a:
                if key == "episode":  # Monitor's return, length and (differing) time
                    assert (a[key]["r"], a[key]["l"]) == (b[key]["r"], b[key]["l"])
                else:
                    np.testing.assert_array_equal(a[key], b[key])
            finished += "terminal_observation" in a
    assert finished >= 10  # episodes ended, Monitor's "episode" infos included


class _SameInfo(gym.Wrapper):
    """An env that hands out one dict object on every step and changes it in place."""

    def __init__(self, env):
        super().__init__(env)
        self.info: dict = {}
        self.obs = np.zeros(4, dtype=np.float32)

    def step(self, action):
        obs, reward, terminated, truncated, _ = self.env.step(action)
        self.info.clear()
        self.info["t"] = self.info.get("t", 0) + 1
        self.obs[:] = obs  # the same observation array too
        return self.obs, reward, terminated, truncated, self.info


def test_infos_and_terminal_observations_are_the_callers_own():
    venv = DummyVecEnv([lambda: _SameInfo(gym.make("CartPole-v1"))])
    venv.seed(0)
    venv.reset()
    kept, done_at, terminal = [], [], None
    for _ in range(200):
        _, _, dones, infos = venv.step(np.array([0]))
        kept.append(infos[0])
        done_at.append(bool(dones[0]))
        if dones[0] and terminal is None:
            terminal = infos[0]["terminal_observation"]
            snapshot = terminal.copy()
    assert len({id(info) for info in kept}) == len(kept)  # a fresh dict on every step
    # keys added at episode ends stay on those steps' dicts, not the env's shared one
    assert ["terminal_observation" in info for info in kept] == done_at
    assert 5 < sum(done_at) < 100
    assert terminal is not None
    np.testing.assert_array_equal(terminal, snapshot)  # later steps did not overwrite it
