"""--backend sbx: trainings with SBX (JAX), saved without pickle and read back for rollouts
and warm starts."""

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from test_cli import t2r
from test_experience import two_rounds

from text2reward.config import check_backend
from text2reward.errors import ConfigError
from text2reward.training import backends

ROOT = Path(__file__).resolve().parents[1]
EXPERT = ROOT / "envs" / "Pendulum-v1" / "expert_swing_up.py"


def test_an_sbx_training_in_the_sandbox_saves_a_policy_that_is_read_back_without_pickle(
        tmp_path):
    out = tmp_path / "sbx"
    proc = t2r("train", "--env", "Pendulum-v1", "--task", "swing_up", "--reward", str(EXPERT),
               "--timesteps", "3000", "--backend", "sbx", "--device", "cpu", "--out", str(out),
               "--json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["status"] == "trained" and result["sandbox"]["seccomp"]
    preset = json.loads((out / "preset.json").read_text())
    assert preset["backend"] == "sbx" and preset["algo"] == "SAC"
    with zipfile.ZipFile(out / "policy.zip") as archive:
        assert archive.namelist() == [backends.SBX_PARAMS]  # parameters only, no pickle
    # read back into a model built from the preset: it acts as the trained policy did
    env = gym.make("Pendulum-v1")
    policy = backends.load_policy(out / "policy.zip", preset, env)
    obs, _ = env.reset(seed=10_000)
    upright = []
    for _ in range(200):
        action, _ = policy.predict(obs, deterministic=True)
        obs, *_ = env.step(action)
        upright.append(obs[0] > 0.9)  # cos(angle): the pole within ~25 degrees of upright
    assert np.mean(upright[100:]) == 1.0, "the trained swing-up holds the pole up"
    assert result["eval"]["success_rate"] == 1.0
    # scripts/evaluate_policy.py measures its env return as rl-zoo3's benchmark does
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "evaluate_policy.py"),
                           str(out), "--steps", "1000"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    measured = json.loads(proc.stdout)
    assert measured["episodes"] == 5  # Pendulum's episodes are 200 steps
    assert measured["mean_return"] > -400  # a random policy's is about -1,200
    # a warm start from it (in process) starts from its weights
    from text2reward.envs.spec import load_spec
    from text2reward.program import RewardProgram
    from text2reward.training.scoring import load_scorer
    from text2reward.training.trainer import train

    spec = load_spec("Pendulum-v1")
    warm = train(spec, RewardProgram.load(EXPERT.read_text()),
                 load_scorer(spec, "swing_up", None), {**preset, "timesteps": 200},
                 tmp_path / "warm", device="cpu", init_policy=str(out / "policy.zip"))
    assert warm["warm_start"] and warm["eval"]["success_rate"] == 1.0


def test_an_sbx_search_shares_experience_and_renders_its_best(tmp_path):
    out = tmp_path / "run"
    _, second = two_rounds(out, 600, "--backend", "sbx")
    assert json.loads((out / "config.json").read_text())["backend"] == "sbx"
    assert second["shared"]["files"] == 1 and second["shared"]["transitions"] >= 590
    summary = json.loads((out / "summary.json").read_text())
    best = summary["best"]
    folder = out / "rounds" / f"r{best['round']:02d}" / f"c{best['index']:02d}"
    assert (folder / "rollout.gif").stat().st_size > 0  # the rollout read the SBX policy


def test_a_backend_that_is_not_there_is_bad_input(monkeypatch):
    import importlib.util

    with pytest.raises(ConfigError, match="sb3, sbx"):
        check_backend("jax")
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "sbx" else real(name, *a))
    with pytest.raises(ConfigError, match=r"pip install \"text2reward\[sbx\]\""):
        check_backend("sbx")


@pytest.mark.parametrize("algo", ["TQC", "CrossQ", "TD3"])
def test_other_sbx_algorithms_train_save_and_load(tmp_path, algo):
    """TQC and CrossQ (whose critics keep batch-norm statistics) and TD3, in process."""
    from text2reward.envs.spec import load_spec
    from text2reward.program import RewardProgram
    from text2reward.training.presets import build_preset
    from text2reward.training.scoring import load_scorer
    from text2reward.training.trainer import train

    spec = load_spec("Pendulum-v1")
    preset = build_preset(spec, spec.tasks["swing_up"])
    preset.update(algo=algo, backend="sbx", timesteps=400,
                  hyperparams={"learning_starts": 100, "batch_size": 32,
                               "policy_kwargs": {"net_arch": [16, 16]}})
    result = train(spec, RewardProgram.load(EXPERT.read_text()),
                   load_scorer(spec, "swing_up", None), preset, tmp_path, device="cpu")
    assert result["steps"] == 400
    env = gym.make("Pendulum-v1")
    policy = backends.load_policy(tmp_path / "policy.zip", preset, env)
    again = backends.load_policy(tmp_path / "policy.zip", preset, env)
    fresh = backends.algo_class(algo, "sbx")("MlpPolicy", env, seed=123, policy_kwargs={
        "net_arch": [16, 16]}).policy  # the same networks, untrained
    observations = np.array([env.reset(seed=k)[0] for k in range(8)])
    loaded, _ = policy.predict(observations, deterministic=True)
    assert all(env.action_space.contains(a.astype(np.float32)) for a in loaded)
    # the saved parameters were read back: the same actions from two loads, not a fresh net's
    np.testing.assert_allclose(again.predict(observations, deterministic=True)[0], loaded)
    assert not np.allclose(fresh.predict(observations, deterministic=True)[0], loaded)
