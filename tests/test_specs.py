"""Curated env specs: features, success functions, experts and families are consistent and run."""

from __future__ import annotations

import string

import gymnasium as gym
import numpy as np
import pytest

from text2reward.critic.static import check_source
from text2reward.envs import Episode, StateView, list_specs, load_spec
from text2reward.program import RewardProgram

CLASSIC = ["CartPole-v1", "MountainCarContinuous-v0", "Pendulum-v1", "Acrobot-v1", "LunarLander-v3"]
SPECS = {spec.env_id: spec for spec in list_specs() if spec.env_id in CLASSIC}  # others: own tests
TASKS = [(env_id, name) for env_id, spec in SPECS.items() for name in spec.tasks]


def test_classic_specs_are_curated():
    assert set(CLASSIC) <= set(SPECS)
    for env_id in CLASSIC:
        assert len(SPECS[env_id].tasks) >= 2


def _rollout(env_id: str, n: int = 24, seed: int = 0):
    """Observations, actions and the unwrapped env states of a short random rollout."""
    env = gym.make(env_id)
    env.action_space.seed(seed)
    obs, _ = env.reset(seed=seed)
    rows, actions, states = [], [], []
    for _ in range(n):
        rows.append(np.asarray(obs, dtype=np.float64))
        raw = getattr(env.unwrapped, "state", None)
        states.append(None if raw is None else np.array(raw, dtype=np.float64))
        action = env.action_space.sample()
        actions.append(action)
        obs, _, terminated, truncated, _ = env.step(action)
        if terminated or truncated:
            obs, _ = env.reset()
    env.close()
    return np.stack(rows), np.stack(actions), states


@pytest.mark.parametrize("env_id", sorted(SPECS))
def test_features_extract_from_real_observations(env_id):
    spec = SPECS[env_id]
    obs, _, _ = _rollout(env_id)
    for feature in spec.features:
        value = np.asarray(feature.extract(obs))
        assert value.shape == (len(obs),), feature.name
        assert np.all(np.isfinite(value)), feature.name
        assert feature.description and feature.unit, feature.name


def test_pendulum_angle_matches_the_env_state():
    spec = SPECS["Pendulum-v1"]
    obs, _, states = _rollout("Pendulum-v1")
    theta = np.array([s[0] for s in states])
    expected = (theta + np.pi) % (2 * np.pi) - np.pi
    view = StateView.from_obs(spec, obs)
    assert np.allclose(np.cos(view.angle - expected), 1.0, atol=1e-5)
    assert np.allclose(view.tip_height, np.cos(expected), atol=1e-5)


def test_acrobot_tip_matches_the_env_geometry():
    spec = SPECS["Acrobot-v1"]
    obs, _, states = _rollout("Acrobot-v1")
    s = np.stack(states)
    view = StateView.from_obs(spec, obs)
    assert np.allclose(view.tip_height, -np.cos(s[:, 0]) - np.cos(s[:, 0] + s[:, 1]), atol=1e-5)
    assert np.allclose(view.tip_x, np.sin(s[:, 0]) + np.sin(s[:, 0] + s[:, 1]), atol=1e-5)
    assert np.allclose(view.link1_angle, s[:, 0], atol=1e-5)


def test_lunar_lander_side_engines_turn_as_documented():
    """Action 1 makes angle grow (counter-clockwise) and pushes toward -x; action 3 the opposite."""
    for action, sign in ((1, 1.0), (3, -1.0)):
        env = gym.make("LunarLander-v3")
        env.reset(seed=0)
        env.unwrapped.lander.linearVelocity = (0.0, 0.0)
        env.unwrapped.lander.angularVelocity = 0.0
        for _ in range(10):
            obs, *_ = env.step(action)
        env.close()
        assert sign * obs[4] > 0 and sign * obs[2] < 0


# ---- success functions on hand-made episodes --------------------------------------------


def _pendulum_obs(angle, omega):
    angle = np.asarray(angle, dtype=np.float64)
    omega = np.broadcast_to(omega, angle.shape)
    return np.stack([np.cos(angle), np.sin(angle), omega], axis=1)


def _acrobot_obs(t1, t2):
    t1 = np.asarray(t1, dtype=np.float64)
    t2 = np.broadcast_to(t2, t1.shape)
    zeros = np.zeros_like(t1)
    return np.stack([np.cos(t1), np.sin(t1), np.cos(t2), np.sin(t2), zeros, zeros], axis=1)


def _lander_obs(x, y, legs):
    n = len(y)
    obs = np.zeros((n, 8))
    obs[:, 0], obs[:, 1], obs[:, 6], obs[:, 7] = x, y, legs, legs
    return obs


def _episode(env_id, obs, rewards=None, terminated=False, actions=None):
    spec = SPECS[env_id]
    steps = len(obs) - 1
    rewards = np.zeros(steps) if rewards is None else np.asarray(rewards, dtype=np.float64)
    actions = np.zeros(steps, dtype=np.int64) if actions is None else actions
    return Episode.from_arrays(spec, obs, actions, rewards, terminated, not terminated)


def _cases():
    """(good, bad) hand-made episodes for every curated task."""
    t = np.linspace(0.0, 1.0, 501)
    cases = {}
    cp = lambda x: np.stack([x, 0 * x, 0 * x, 0 * x], axis=1)  # noqa: E731
    cases["CartPole-v1", "balance"] = (
        _episode("CartPole-v1", cp(0 * t), np.ones(500)),
        _episode("CartPole-v1", cp(0 * t[:21]), np.ones(20), terminated=True),
    )
    cases["CartPole-v1", "right_half"] = (
        _episode("CartPole-v1", cp(0.5 + 0 * t), np.ones(500)),
        _episode("CartPole-v1", cp(-0.5 + 0 * t), np.ones(500)),
    )
    mc = lambda x: np.stack([x, 0 * x], axis=1)  # noqa: E731
    cases["MountainCarContinuous-v0", "reach_flag"] = (
        _episode("MountainCarContinuous-v0", mc(np.linspace(-0.5, 0.46, 120)), terminated=True,
                 actions=np.ones((119, 1))),
        _episode("MountainCarContinuous-v0", mc(np.full(1000, -0.5)), actions=np.zeros((999, 1))),
    )
    cases["MountainCarContinuous-v0", "left_hill"] = (
        _episode("MountainCarContinuous-v0", mc(np.linspace(-0.5, -1.2, 1000)),
                 actions=np.ones((999, 1))),
        _episode("MountainCarContinuous-v0", mc(np.linspace(-0.5, 0.46, 120)), terminated=True,
                 actions=np.ones((119, 1))),
    )
    pend_t = np.arange(201)
    no_torque = np.zeros((200, 1))
    cases["Pendulum-v1", "swing_up"] = (
        _episode("Pendulum-v1", _pendulum_obs(0.05 * np.sin(pend_t), 0.1), actions=no_torque),
        _episode("Pendulum-v1", _pendulum_obs(np.full(201, np.pi), 0.0), actions=no_torque),
    )
    cases["Pendulum-v1", "spin_ccw"] = (
        _episode("Pendulum-v1", _pendulum_obs(0.3 * pend_t, 6.0), actions=np.ones((200, 1))),
        _episode("Pendulum-v1", _pendulum_obs(-0.3 * pend_t, -6.0), actions=-np.ones((200, 1))),
    )
    swing = np.linspace(0.0, 2.8, 61)  # hanging -> first link nearly straight up, elbow right
    cases["Acrobot-v1", "swing_up"] = (
        _episode("Acrobot-v1", _acrobot_obs(swing, 0.0), np.r_[-np.ones(59), 0.0], terminated=True),
        _episode("Acrobot-v1", _acrobot_obs(np.zeros(501), 0.0), -np.ones(500)),
    )
    level = np.r_[np.linspace(0.0, 1.8, 50), np.full(451, 1.8)]  # tip just above the pivot
    cases["Acrobot-v1", "pivot_level"] = (
        _episode("Acrobot-v1", _acrobot_obs(level, 0.0), -np.ones(500)),
        _episode("Acrobot-v1", _acrobot_obs(swing, 0.0), np.r_[-np.ones(59), 0.0], terminated=True),
    )
    n = 1001
    cases["LunarLander-v3", "land"] = (
        _episode("LunarLander-v3", _lander_obs(0.0, np.linspace(1.4, 0.0, 300), 0.0),
                 np.full(299, 250.0 / 299), terminated=True),
        _episode("LunarLander-v3", _lander_obs(0.6, np.linspace(1.4, 0.3, 60), 0.0),
                 np.r_[np.zeros(58), -100.0], terminated=True),
    )
    landed_y = np.r_[np.linspace(1.4, 0.0, 100), np.zeros(n - 100)]
    hover_y = np.r_[np.linspace(1.4, 1.0, 30), np.full(n - 30, 1.0)]
    cases["LunarLander-v3", "hover"] = (
        _episode("LunarLander-v3", _lander_obs(0.0, hover_y, 0.0)),
        _episode("LunarLander-v3", _lander_obs(0.0, landed_y, landed_y == 0.0)),
    )
    return cases


CASES = _cases()


@pytest.mark.parametrize("env_id,task", TASKS)
def test_success_separates_doing_the_task_from_not(env_id, task):
    spec = SPECS[env_id]
    assert (env_id, task) in CASES, f"add hand-made episodes for {env_id}:{task}"
    good, bad = CASES[env_id, task]
    fn = spec.tasks[task].score_fn()
    threshold = spec.tasks[task].success_threshold
    assert fn(good) >= threshold, (fn(good), threshold)
    assert fn(bad) < threshold, (fn(bad), threshold)


# ---- experts and families ---------------------------------------------------------------


def _batches(env_id: str, n: int = 8):
    spec = SPECS[env_id]
    obs, actions, _ = _rollout(env_id, n + 1, seed=1)
    env = gym.make(env_id)
    if isinstance(env.action_space, gym.spaces.Discrete):
        actions = np.asarray(actions[:n], dtype=np.int64).reshape(n)
    else:
        actions = np.asarray(actions[:n], dtype=np.float32).reshape(n, -1)
    env.close()
    actions.flags.writeable = False
    return StateView.from_obs(spec, obs[:n]), actions, StateView.from_obs(spec, obs[1:])


def _check_output(program, env_id):
    state, action, next_state = _batches(env_id)
    reward, components = program(state, action, next_state)
    n = len(action)
    assert reward.shape == (n,) and np.all(np.isfinite(reward))
    assert components
    for name, value in components.items():
        value = np.asarray(value, dtype=np.float64)
        assert value.shape == (n,) and np.all(np.isfinite(value)), name


@pytest.mark.parametrize("env_id,task", TASKS)
def test_expert_passes_the_static_critic_and_runs(env_id, task):
    source = SPECS[env_id].tasks[task].expert_path.read_text()
    assert check_source(source) == []
    _check_output(RewardProgram.load(source), env_id)


def render_family(family, weights=None, params=None) -> str:
    """The family as a reward program: ``name = weight * (expr)`` per non-zero component."""
    weights = weights or {n: c["weight"][0] for n, c in family.components.items()}
    params = params or {n: p[0] for n, p in family.params.items()}
    lines = ["import numpy as np", "", "", "def compute_reward(state, action, next_state):"]
    names = []
    for name, comp in family.components.items():
        if weights[name] == 0:
            continue
        values = {k: repr(float(v)) for k, v in params.items()}
        expr = string.Template(comp["expr"]).substitute(values)
        lines.append(f"    {name} = {float(weights[name])!r} * ({expr})")
        names.append(name)
    lines.append(f"    reward = {' + '.join(names)}")
    lines.append("    return reward, {" + ", ".join(f"{n!r}: {n}" for n in names) + "}")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("env_id,task", TASKS)
def test_family_renders_to_a_program_that_runs(env_id, task):
    family = SPECS[env_id].tasks[task].family
    assert family is not None
    for name, comp in family.components.items():
        default, low, high = comp["weight"]
        assert low <= default <= high, name
    for name, (default, low, high) in family.params.items():
        assert low <= default <= high, name
    # Defaults, and every component switched on at its upper weight with params at the bounds.
    upper = {n: c["weight"][2] for n, c in family.components.items()}
    for weights, params in ((None, None),
                            (upper, {n: p[1] for n, p in family.params.items()}),
                            (upper, {n: p[2] for n, p in family.params.items()})):
        source = render_family(family, weights, params)
        assert check_source(source) == [], source
        _check_output(RewardProgram.load(source), env_id)


def test_training_presets_are_complete():
    for spec in SPECS.values():
        for task in spec.tasks.values():
            preset = spec.training_preset(task)
            assert preset["algo"].upper() in {"PPO", "A2C", "SAC", "TD3", "DQN"}
            assert int(preset["timesteps"]) > 0 and int(preset["n_envs"]) > 0
            assert int(preset["eval_episodes"]) > 0


def test_load_spec_round_trip():
    for env_id in CLASSIC:
        assert load_spec(env_id).env_id == env_id


@pytest.mark.parametrize("env_id", sorted(s.env_id for s in list_specs()))
def test_features_read_as_columns_equal_the_computed_ones(env_id):
    """Features that are plain columns of the rows are read as rows[:, column]; every such
    feature must equal the general computation, on real states of every curated env."""
    from text2reward.critic.runtime import collect_batches
    from text2reward.envs.state import RowSchema

    spec = load_spec(env_id)
    task = next(iter(spec.tasks.values()), None)
    layout, batches = collect_batches(spec, spec.env_kwargs(task) if task else {}, n_envs=2,
                                      steps=3)
    rows = np.concatenate([b[2] for b in batches])
    schema = RowSchema(spec, layout)
    columns = 0
    for name, feature in spec.feature_map.items():
        expected = np.asarray(layout.feature(feature, rows))
        got = schema.compute(name, rows)
        np.testing.assert_array_equal(got, expected, err_msg=name)
        assert not got.flags.writeable, name
        columns += layout.column(feature) is not None
    if env_id in ("CartPole-v1", "HalfCheetah-v5"):  # obs columns; qpos/qvel scalars
        assert columns >= 4


@pytest.mark.parametrize("env_id", sorted(s.env_id for s in list_specs()))
def test_every_feature_is_one_line_of_the_abstraction(env_id):
    """Descriptions folded by YAML (``>``) end in a newline: the list the designer reads had
    a blank line after each of them."""
    from text2reward.envs.abstraction import describe

    text = describe(load_spec(env_id))
    block = text[text.index("State features"):text.index("- obs: the raw observation batch")]
    assert "\n\n" not in block, block
