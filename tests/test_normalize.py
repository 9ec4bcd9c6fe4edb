"""VecNormalize presets: the policy sees normalised observations, the reward raw features, and
every later use of the policy (evaluation, rollout, warm start, the best policy) the same
statistics."""

import numpy as np

from text2reward.envs.spec import load_spec
from text2reward.program import RewardProgram
from text2reward.training import normalize
from text2reward.training.normalize import ObsStats
from text2reward.training.scoring import load_scorer
from text2reward.training.trainer import train

ALIVE = ("import numpy as np\n\ndef compute_reward(state, action, next_state):\n"
         "    alive = np.ones_like(next_state.pole_angle)\n    return alive, {'alive': alive}\n")


def test_options_follow_the_preset_and_take_its_gamma():
    assert normalize.options({"hyperparams": {}}) is None
    assert normalize.options({"normalize": True, "hyperparams": {"gamma": 0.98}}) == {
        "norm_obs": True, "norm_reward": True, "gamma": 0.98}
    assert normalize.options({"normalize": {"norm_reward": False}})["norm_reward"] is False


def test_stats_round_trip_without_pickle_and_normalise_as_vecnormalize(tmp_path):
    import gymnasium as gym
    from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

    norm = VecNormalize(DummyVecEnv([lambda: gym.make("Pendulum-v1")] * 2))
    norm.reset()
    for _ in range(50):
        obs, *_ = norm.step(np.array([[1.0], [-1.0]]))
    raw = norm.get_original_obs()
    stats = ObsStats.of(norm)
    stats.save(tmp_path / "obs_norm.npz")
    back = ObsStats.load(tmp_path / "obs_norm.npz")
    assert np.allclose(back.apply(raw), norm.normalize_obs(raw))
    assert ObsStats.load(tmp_path / "missing.npz") is None
    assert normalize.beside(tmp_path / "policy.zip") == tmp_path / "obs_norm.npz"
    assert normalize.beside(tmp_path / "best_policy.zip") == tmp_path / "best_obs_norm.npz"


def test_dict_observations_are_normalised_key_by_key():
    stats = ObsStats({"a": np.array([1.0, 2.0])}, {"a": np.array([4.0, 4.0])}, 10.0, 10.0, 0.0)
    out = stats.apply({"a": np.array([[3.0, 2.0]]), "b": np.array([[7.0]])})
    assert np.allclose(out["a"], [[1.0, 0.0]]) and np.array_equal(out["b"], [[7.0]])


def test_a_normalised_training_saves_its_statistics_and_rewards_stay_raw(tmp_path):
    spec = load_spec("CartPole-v1")
    task = spec.tasks["balance"]
    preset = {**spec.training_preset(task), "timesteps": 1024, "normalize": True}
    result = train(spec, RewardProgram.load(ALIVE), load_scorer(spec, "balance", None), preset,
                   tmp_path, seed=0)
    stats = ObsStats.load(tmp_path / "obs_norm.npz")
    assert stats is not None and stats.count > 1000 and stats.mean[""].shape == (4,)
    # the reward program saw raw states: its alive bonus is 1 per step, not a normalised value
    assert result["eval"]["reward_return"] == result["eval"]["length"]
    cold = train(spec, RewardProgram.load(ALIVE), load_scorer(spec, "balance", None), preset,
                 tmp_path / "warm", seed=0, init_policy=str(tmp_path / "policy.zip"))
    assert ObsStats.load(tmp_path / "warm" / "obs_norm.npz").count > stats.count
    assert cold["warm_start"]
