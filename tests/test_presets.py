"""Fast defaults: rl-zoo3 presets with our overrides, vector env choice by env cost, device."""

import dataclasses
from pathlib import Path

import pytest

from text2reward.envs.spec import list_specs, load_spec
from text2reward.training import presets, trainer
from text2reward.training.presets import build_preset, convert, parse_policy_kwargs

ZOO_PPO = """
CartPole-v1:
  n_envs: 8
  n_timesteps: !!float 1e5
  policy: 'MlpPolicy'
  n_steps: 32
  batch_size: 256
  gamma: 0.98
  n_epochs: 20
  learning_rate: lin_0.001
  clip_range: lin_0.2
  normalize: true
  policy_kwargs: "dict(
                    log_std_init=-2,
                    ortho_init=False,
                    activation_fn=nn.ReLU,
                    net_arch=dict(pi=[256, 256], vf=[256, 256])
                  )"
"""


@pytest.fixture
def zoo(tmp_path):
    (tmp_path / "ppo.yml").write_text(ZOO_PPO)
    return tmp_path


def with_training(env_id, **training):
    spec = load_spec(env_id)
    return dataclasses.replace(spec, training={**spec.training, **training})


def test_policy_kwargs_are_parsed_without_eval():
    import torch.nn as nn

    kwargs = parse_policy_kwargs("dict(log_std_init=-2, ortho_init=False, activation_fn=nn.Tanh,"
                                 " net_arch=dict(pi=[64], vf=[64, 64]))")
    assert kwargs == {"log_std_init": -2, "ortho_init": False, "activation_fn": nn.Tanh,
                      "net_arch": {"pi": [64], "vf": [64, 64]}}
    for bad in ("dict(optimizer_class=RMSpropTFLike)", "__import__('os').system('true')",
                "dict(activation_fn=nn.functional.relu)", "[1, 2]"):
        with pytest.raises(ValueError):
            parse_policy_kwargs(bad)


def test_zoo_strings_are_converted_and_unusable_keys_dropped_with_notes():
    preset, notes = convert({"n_timesteps": 1e5, "n_envs": 4, "policy": "MlpPolicy",
                             "learning_rate": "lin_1e-3", "ent_coef": "0.01", "normalize": True,
                             "train_freq": [1, "episode"], "env_wrapper": ["x.Y"],
                             "policy_kwargs": "dict(optimizer_class=RMSpropTFLike)"})
    hp = preset["hyperparams"]
    assert preset["n_envs"] == 4 and preset["policy"] == "MlpPolicy" and "n_timesteps" not in hp
    assert hp["learning_rate"](1.0) == pytest.approx(1e-3)
    assert hp["learning_rate"](0.5) == pytest.approx(5e-4)  # linear to 0, as the zoo does
    assert hp["ent_coef"] == 0.01 and hp["train_freq"] == (1, "episode")
    assert "normalize" not in hp and "policy_kwargs" not in hp and "env_wrapper" not in hp
    assert preset["normalize"] is True  # VecNormalize, as the zoo trains it
    text = " ".join(notes)
    assert "env_wrapper" in text and "RMSpropTFLike" in text
    options, _ = convert({"normalize": "{'norm_obs': True, 'norm_reward': False}"})
    assert options["normalize"] == {"norm_obs": True, "norm_reward": False}


def test_a_zoo_preset_gets_our_overrides_on_top(zoo):
    spec = with_training("CartPole-v1", hyperparams_from="rl-zoo3",
                         zoo_overrides={"n_epochs": 4, "n_envs": 4})
    preset = build_preset(spec, None, folder=zoo)
    hp = preset["hyperparams"]
    assert preset["source"] == "rl-zoo3:ppo/CartPole-v1"
    assert hp["n_epochs"] == 4 and hp["n_steps"] == 32 and hp["gamma"] == 0.98
    assert preset["n_envs"] == 4 and "n_envs" not in hp
    assert preset["timesteps"] == spec.training["timesteps"]  # our budget, not n_timesteps
    assert hp["policy_kwargs"]["net_arch"] == {"pi": [256, 256], "vf": [256, 256]}
    assert preset["normalize"] is True and not preset["notes"]
    assert "hyperparams_from" not in preset and "zoo_overrides" not in preset


def test_a_task_override_beats_the_zoo(zoo):
    spec = with_training("CartPole-v1", hyperparams_from="rl-zoo3")
    task = dataclasses.replace(next(iter(spec.tasks.values())),
                               training={"n_envs": 2, "hyperparams": {"gamma": 0.9}})
    preset = build_preset(spec, task, folder=zoo)
    assert preset["n_envs"] == 2 and preset["hyperparams"]["gamma"] == 0.9
    # a task's torch class names become classes on top of the zoo's too (as HalfCheetah run's
    # written-out zoo entry has them)
    import torch.nn as nn

    task = dataclasses.replace(task, training={"hyperparams": {"policy_kwargs": {
        "activation_fn": "torch.nn.Tanh", "net_arch": [8]}}})
    kwargs = build_preset(spec, task, folder=zoo)["hyperparams"]["policy_kwargs"]
    assert kwargs == {"activation_fn": nn.Tanh, "net_arch": [8]}


def test_without_the_zoo_or_its_entry_the_spec_preset_is_used(zoo, monkeypatch):
    spec = with_training("Pendulum-v1", hyperparams_from="rl-zoo3")  # SAC: no sac.yml here
    preset = build_preset(spec, None, folder=zoo)
    assert preset["source"] == "spec" and "no SAC entry" in preset["notes"][0]
    assert preset["hyperparams"] == load_spec("Pendulum-v1").training_preset(None)["hyperparams"]
    monkeypatch.setattr(presets, "zoo_dir", lambda: None)
    preset = build_preset(with_training("CartPole-v1", hyperparams_from="rl-zoo3"), None)
    assert preset["source"] == "spec" and "not installed" in preset["notes"][0]


def test_the_curated_specs_keep_their_own_presets():
    for spec in list_specs():
        preset = build_preset(spec, None)
        own = spec.training_preset(None)
        assert preset["source"] == "spec", spec.env_id
        assert {k: v for k, v in preset.items() if k not in ("source", "notes")} == own


@pytest.mark.skipif(presets.zoo_dir() is None, reason="rl_zoo3 is not installed")
def test_the_installed_zoo_has_tuned_cartpole_values():
    entry = presets.zoo_entry("PPO", "CartPole-v1")
    assert entry and "n_steps" in entry


# -- vector env and device ------------------------------------------------------------------
def test_slow_envs_get_a_subproc_vec_env_and_cheap_ones_stay_in_process(monkeypatch):
    spec = load_spec("CartPole-v1")
    assert trainer.env_step_cost(spec, {}) > 0
    monkeypatch.setattr(trainer, "env_step_cost", lambda *a, **k: 5e-3)
    assert trainer.choose_vec_env(spec, {}, 4) == "subproc"
    assert trainer.choose_vec_env(spec, {}, 1) == "dummy"
    monkeypatch.setattr(trainer, "can_start_processes", lambda: False)  # a locked-down worker
    assert trainer.choose_vec_env(spec, {}, 4) == "dummy"
    monkeypatch.setattr(trainer, "env_step_cost", lambda *a, **k: 2e-5)
    monkeypatch.setattr(trainer, "can_start_processes", lambda: True)
    assert trainer.choose_vec_env(spec, {}, 4) == "dummy"


def test_subproc_env_processes_lock_down_and_report_terminal_observations(tmp_path, monkeypatch):
    spec = load_spec("CartPole-v1")
    monkeypatch.setattr(trainer, "env_step_cost", lambda *a, **k: 5e-3)
    lock = {"cpu_seconds": 120, "scratch": str(tmp_path)}
    assert trainer.prebuild_vec_env(spec, {}, 2, 0, lock) == "subproc"
    venv = trainer.make_vec_env(spec, {}, 2, 0)  # the prebuilt one
    try:
        assert type(venv).__name__ == "SubprocVecEnv"
        for proc in venv.processes:
            status = Path(f"/proc/{proc.pid}/status").read_text().split("\n")
            assert "Seccomp:\t2" in status  # the env process is sandboxed like the worker
        venv.reset()
        finished = 0
        for _ in range(200):
            _, _, dones, infos = venv.step([venv.action_space.sample() for _ in range(2)])
            for done, info in zip(dones, infos, strict=True):
                if done:
                    finished += 1
                    assert info["terminal_observation"].shape == (4,)
        assert finished > 0
    finally:
        venv.close()
    assert type(trainer.make_vec_env(spec, {}, 2, 0, "dummy")).__name__ == "DummyVecEnv"


def test_device_auto_uses_the_gpu_only_when_there_is_one(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert trainer.resolve_device("auto") == "cpu"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert trainer.resolve_device("auto") == "cuda"
    assert trainer.resolve_device("cpu") == "cpu"


def test_a_training_time_limit_grows_with_its_budget():
    """A worker is killed as hung only past 30 min plus a second per 25 env steps: HalfCheetah
    run's one-env 1M-step preset took 1,934 s on a loaded core, past the old flat 1,800 s."""
    from text2reward.config import RunConfig
    from text2reward.search.candidate import Setup, job_for

    spec = load_spec("HalfCheetah-v5")
    run = spec.tasks["run"]
    assert spec.training_preset(run)["timesteps"] == 1_000_000
    assert presets.time_limit(spec, run) == 1800 + 40_000
    assert presets.time_limit(spec, run, timesteps=20_000) == 1800 + 800
    setup = Setup(spec=spec, task=run, score_kind="task", metric="", threshold=1.5)
    config = RunConfig(env="HalfCheetah-v5", task="run")
    assert job_for(config, setup, "train", Path("f")).timeout_s == 41_800
    assert job_for(config, setup, "check", Path("f")).timeout_s == 60
    config.train_timeout_s = 900
    assert job_for(config, setup, "train", Path("f")).timeout_s == 900


def test_a_preset_that_names_sbx_trains_with_sb3_where_sbx_is_missing(monkeypatch):
    import importlib.util

    spec = load_spec("Pendulum-v1")
    spec = dataclasses.replace(spec, training={**spec.training, "algo": "SAC", "backend": "sbx"})
    real = importlib.util.find_spec
    assert build_preset(spec)["backend"] == ("sbx" if real("sbx") else "sb3")
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "sbx" else real(name, *a))
    preset = build_preset(spec)
    assert preset["backend"] == "sb3" and preset["algo"] == "SAC"
    assert any("SBX, which is not installed" in note for note in preset["notes"])


def test_a_task_that_trains_with_another_algorithm_keeps_none_of_the_envs_hyperparameters():
    spec = load_spec("Ant-v5")
    task = dataclasses.replace(spec.tasks["lie_down"],
                               training={"algo": "SAC", "hyperparams": {"learning_starts": 10}})
    preset = spec.training_preset(task)
    assert preset["algo"] == "SAC" and preset["hyperparams"] == {"learning_starts": 10}
    same = dataclasses.replace(task, training={"hyperparams": {"n_epochs": 10}})
    assert spec.training_preset(same)["hyperparams"]["n_steps"] == 256  # PPO's, merged
