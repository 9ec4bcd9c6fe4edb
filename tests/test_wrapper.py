"""RewardVecEnv replaces the reward once per vector step and records scored episodes."""

import re
from collections import deque

import numpy as np
import pytest

from text2reward.envs import load_spec
from text2reward.program import RewardFault, RewardProgram
from text2reward.training.trainer import make_vec_env
from text2reward.training.wrapper import RewardVecEnv

SPEC = load_spec("CartPole-v1")


def wrapped(source, n=4):
    program = RewardProgram.load(source)
    return RewardVecEnv(make_vec_env(SPEC, {}, n, seed=0), SPEC, program, lambda ep: ep.env_return)


def test_reward_comes_from_the_program_and_episodes_are_scored():
    calls = []
    env = wrapped("import numpy as np\ndef compute_reward(s, a, n):\n"
                  "    r = 2.0 + n.cart_position * 0\n    return r, {'two': r}\n")
    inner = env.program
    env.program = lambda *args: (calls.append(1), inner(*args))[1]
    env.reset()
    for _ in range(60):
        _, reward, _, _ = env.step(np.ones(4, dtype=int))  # always push right: falls fast
        assert np.all(reward == 2.0)
    assert len(calls) == 60  # one call per vector step, not per env
    assert env.finished, "pushing right for 60 steps must end episodes"
    ep = env.finished[0]
    assert ep.terminated and not ep.truncated
    assert ep.score == ep.env_return == ep.length
    assert ep.components["two"] == pytest.approx(2.0 * ep.length)


def test_terminal_state_is_the_real_last_state_not_the_reset_one():
    seen = []

    def spy(state, action, next_state):
        seen.append(np.array(next_state.cart_position))
        return np.zeros(len(action)), {}

    env = RewardVecEnv(make_vec_env(SPEC, {}, 2, 0), SPEC, spy, lambda ep: 0.0)
    env.reset()
    for _ in range(60):
        _, _, dones, infos = env.step(np.ones(2, dtype=int))
        if dones.any():
            i = int(np.flatnonzero(dones)[0])
            assert seen[-1][i] == pytest.approx(infos[i]["terminal_observation"][0])
            return
    pytest.fail("no episode ended")


def test_nan_reward_is_a_fault():
    """NaN and inf are caught through the running sums: before the policy learns from the
    rollout (the trainer calls check_finite), and at the latest when an episode ends."""
    source = ("import numpy as np\ndef compute_reward(s, a, n):\n"
              "    return np.where(n.cart_position > 1e9, 0.0, np.log(s.pole_angle * 0 - 1)), "
              "{}\n")
    env = wrapped(source)
    env.reset()
    env.step(np.ones(4, dtype=int))
    with pytest.raises(RewardFault, match="NaN"):
        env.check_finite()
    env = wrapped(source)
    env.reset()
    with pytest.raises(RewardFault, match="NaN"):
        for _ in range(200):  # pushing right topples the pole within a few dozen steps
            env.step(np.ones(4, dtype=int))
    assert env.finished == []


def test_a_nan_in_training_names_the_state_it_happened_in():
    """Only pole angles between 0.1 and 0.15 rad give NaN: the fault says where it was."""
    source = ("import numpy as np\ndef compute_reward(s, a, n):\n"
              "    x = np.abs(n.pole_angle)\n"
              "    lean = np.sqrt((x - 0.1) * (x - 0.15))\n"
              "    return lean, {'lean': lean}\n")
    env = wrapped(source)
    env.reset()
    with pytest.raises(RewardFault) as caught:
        for _ in range(200):  # pushing right topples the pole through that band
            env.step(np.ones(4, dtype=int))
    message = str(caught.value)
    assert message.startswith("component 'lean' is NaN or inf after about ")
    angle = float(re.search(r"pole_angle=(-?[\d.e-]+)", message).group(1))
    assert 0.1 < abs(angle) < 0.15, message
    assert "np.clip the argument of sqrt/log/arccos" in message


def test_nan_component_is_a_fault_before_the_first_update(tmp_path):
    from text2reward.training.scoring import load_scorer
    from text2reward.training.trainer import train

    spec = load_spec("CartPole-v1")
    program = RewardProgram.load(
        "import numpy as np\ndef compute_reward(s, a, n):\n"
        "    bad = np.where(n.cart_position > 1e9, 0.0, np.inf) * 0\n"
        "    return np.ones(len(bad)), {'bad': bad}\n")
    preset = {**spec.training_preset(None), "timesteps": 4096, "n_envs": 2}
    # 8-step rollouts end before any episode does (CartPole's shortest are about 9 steps)
    preset["hyperparams"] = {**preset["hyperparams"], "n_steps": 8, "batch_size": 16}
    with pytest.raises(RewardFault, match="'bad'.*NaN") as caught:
        train(spec, program, load_scorer(spec, "balance", None), preset, tmp_path, device="cpu")
    assert any(entry.name == "_on_rollout_end" for entry in caught.traceback)


def test_wrong_shape_is_a_fault():
    env = wrapped("def compute_reward(s, a, n):\n    return 1.0, {}\n")
    env.reset()
    with pytest.raises(RewardFault, match="shape"):
        env.step(np.ones(4, dtype=int))


@pytest.mark.parametrize("policy", ["random", "balancing"])
def test_episode_sums_and_rows_match_the_steps(policy):
    """Steps are recorded in bulk (at episode ends, before updates, every 256 steps): each
    finished episode's reward and component sums, length and rows must still be exactly what
    the steps returned and observed, also across bulk boundaries (500-step episodes)."""
    env = wrapped("import numpy as np\ndef compute_reward(s, a, n):\n"
                  "    up = 1.0 - np.abs(n.pole_angle)\n    x = -np.abs(n.cart_position)\n"
                  "    return up + x, {'up': up, 'x': x}\n", n=2)
    env.recent_raw = deque(maxlen=10_000)
    obs = env.reset()
    rng = np.random.default_rng(0)
    returns, lengths, expected = np.zeros(2), np.zeros(2, dtype=int), []
    episode_obs = [[o] for o in obs]
    for _ in range(1200):
        if policy == "random":
            action = rng.integers(0, 2, 2)
        else:
            action = (obs[:, 2] + 0.5 * obs[:, 3] > 0).astype(int)
        obs, reward, dones, infos = env.step(action)
        returns += reward
        lengths += 1
        for i in range(2):
            episode_obs[i].append(infos[i]["terminal_observation"] if dones[i] else obs[i])
            if dones[i]:
                expected.append((i, returns[i], lengths[i], np.array(episode_obs[i])))
                returns[i], lengths[i], episode_obs[i] = 0.0, 0, [obs[i]]
    assert len(env.finished) == len(expected) >= 2
    if policy == "balancing":
        assert max(e.length for e in env.finished) == 500  # longer than a bulk of 256 steps
    for stats, raw, (_, total, length, rows) in zip(env.finished, env.recent_raw, expected,
                                                    strict=True):
        assert stats.length == length
        np.testing.assert_allclose(stats.reward_return, total, rtol=1e-5)  # float32 rewards
        np.testing.assert_allclose(stats.components["up"] + stats.components["x"], total,
                                   rtol=1e-5)
        np.testing.assert_allclose(raw["obs"], rows, rtol=1e-6)


def test_episodes_kept_by_the_success_function_stay_valid():
    """The success function reads features of the step buffer's rows, which are reused: what
    it reads, and episodes it keeps, must still hold the episode's own states later on."""
    kept, columns = [], []

    def keep(ep):
        kept.append(ep)
        columns.append(ep.features["cart_position"])
        return ep.env_return

    env = RewardVecEnv(make_vec_env(SPEC, {}, 2, seed=0), SPEC,
                       RewardProgram.load("import numpy as np\ndef compute_reward(s, a, n):\n"
                                          "    return np.ones(len(a)), {}\n"), keep)
    env.recent_raw = deque(maxlen=10_000)
    env.reset()
    rng = np.random.default_rng(0)
    for _ in range(2000):  # many episodes: the buffer's slots are reused many times
        env.step(rng.integers(0, 2, 2))
    assert len(kept) == len(env.recent_raw) > 50
    for ep, column, raw in zip(kept, columns, env.recent_raw, strict=True):
        np.testing.assert_array_equal(column, raw["obs"][:, 0])
        np.testing.assert_array_equal(ep.features["pole_angle"], raw["obs"][:, 2])
        assert not ep.features["pole_angle"].flags.writeable


@pytest.mark.parametrize("keeps", [False, True])
def test_rows_are_copied_only_for_episodes_the_success_function_keeps(keeps, monkeypatch):
    from text2reward.envs.state import EpisodeFeatures

    owned, kept = [], []
    original = EpisodeFeatures.own
    monkeypatch.setattr(EpisodeFeatures, "own", lambda self: (owned.append(1), original(self)))

    def score(ep):
        if keeps:
            kept.append(ep)
        return float(ep.features["cart_position"].sum())

    env = RewardVecEnv(make_vec_env(SPEC, {}, 2, seed=0), SPEC,
                       RewardProgram.load("import numpy as np\ndef compute_reward(s, a, n):\n"
                                          "    return np.ones(len(a)), {}\n"), score)
    env.reset()
    for _ in range(200):
        env.step(np.ones(2, dtype=int))
    assert len(env.finished) > 5
    assert len(owned) == (len(env.finished) if keeps else 0)


def test_finished_episodes_carry_the_info_sb3_logs_from():
    """Trainings run without SB3's Monitor: the wrapper puts its episode info in their place."""
    env = wrapped("import numpy as np\ndef compute_reward(s, a, n):\n"
                  "    return np.full(len(a), 2.0), {}\n", n=2)
    env.reset()
    seen = []
    for _ in range(100):
        _, _, dones, infos = env.step(np.ones(2, dtype=int))
        seen += [infos[i]["episode"] for i in np.flatnonzero(dones)]
    assert len(seen) == len(env.finished) > 2
    for info, stats in zip(seen, env.finished, strict=True):
        assert info["l"] == stats.length and info["r"] == pytest.approx(stats.env_return)
        assert info["r"] == stats.length  # CartPole's own reward, not the program's 2.0


@pytest.mark.parametrize("env_id", ["CartPole-v1", "HalfCheetah-v5"])
def test_the_program_cannot_write_what_it_is_given(env_id):
    """States (features, raw rows), next states and actions are read-only on every step,
    also across episode ends and after the step buffer makes room: they are what episodes
    are scored on."""
    spec = load_spec(env_id)
    seen = []

    def spy(state, action, next_state):
        seen.append((state._rows, next_state._rows, action))
        for array in (state.obs, next_state.obs, action, state._rows, next_state._rows):
            with pytest.raises(ValueError, match="read-only"):
                array[...] = 0
        return np.zeros(len(action)), {}

    env = RewardVecEnv(make_vec_env(spec, {}, 2, 0, "dummy"), spec, spy, lambda ep: 0.0)
    env._capacity = 8  # the buffer makes room every few steps
    env.reset()
    for _ in range(40):
        env.step(np.stack([env.action_space.sample() for _ in range(2)]))
    assert env.finished or env_id == "HalfCheetah-v5"
    assert len(seen) == 40 and not any(a.flags.writeable for step in seen for a in step)
