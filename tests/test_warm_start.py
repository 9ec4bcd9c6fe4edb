"""--warm-start: a round's trainings start from the best earlier policy that ever succeeded."""

import json
from pathlib import Path

import numpy as np
from test_cli import GOOD, TASK, t2r
from test_search_stop import SUCCESS

from text2reward.envs.spec import load_spec
from text2reward.program import RewardProgram
from text2reward.training.scoring import load_scorer
from text2reward.training.trainer import train


def _train(out: Path, timesteps: int, init_policy=None) -> dict:
    spec = load_spec("CartPole-v1")
    preset = spec.training_preset(spec.tasks["balance"])
    preset["timesteps"] = timesteps
    return train(spec, RewardProgram.load(GOOD), load_scorer(spec, "balance", None), preset, out,
                 init_policy=init_policy)


def test_a_warm_started_training_starts_from_the_given_policy(tmp_path):
    from stable_baselines3 import PPO

    trained = _train(tmp_path / "a", 4096)
    scratch = _train(tmp_path / "b", 512)
    warm = _train(tmp_path / "c", 512, init_policy=str(tmp_path / "a" / "policy.zip"))
    assert warm["warm_start"] and not scratch["warm_start"] and not trained["warm_start"]

    def weights(name: str) -> np.ndarray:
        policy = PPO.load(tmp_path / name / "policy.zip", device="cpu").policy
        return np.concatenate([p.detach().numpy().ravel() for p in policy.parameters()])

    start = weights("a")  # one more update (512 steps) moves the warm policy only a little
    assert np.abs(weights("c") - start).mean() < 0.2 * np.abs(weights("b") - start).mean()


def test_run_with_warm_start_starts_round_1_from_round_0s_best(tmp_path):
    success = tmp_path / "success.py"
    success.write_text(SUCCESS)  # every episode lasts more than 5 steps: round 0 succeeds
    out = tmp_path / "run"
    proc = t2r("run", "--env", "CartPole-v1", "--task", TASK, "--model", "offline", "--samples",
               "1", "--rounds", "2", "--timesteps", "2000", "--success", str(success),
               "--keep-going", "--warm-start", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    summary = json.loads((out / "summary.json").read_text())
    first, second = (r["candidates"][0] for r in summary["rounds"])
    assert "warm_start_from" not in first and second["warm_start_from"] == [0, 0]
    folder = out / "rounds" / "r01" / "c00"
    assert json.loads((folder / "result.json").read_text())["warm_start"] is True
    assert (folder / "input-init.zip").read_bytes() == (
        out / "rounds" / "r00" / "c00" / "policy.zip").read_bytes()
