"""Calibration of curated tasks (`bench experts`): rows per training, resumable, one table."""

import json

import pytest
from test_cli import t2r

from text2reward.calibrate import parse_settings, preset_for, read_rows, table
from text2reward.errors import UsageError
from text2reward.training import presets


def test_settings_are_literals_and_hyperparameters_nest():
    assert parse_settings(["algo=SAC", "normalize=true", "timesteps=1000",
                           "hyperparams.gamma=0.999", "hyperparams_from=rl-zoo3:Hopper-v4"]) == {
        "algo": "SAC", "normalize": True, "timesteps": 1000, "hyperparams": {"gamma": 0.999},
        "hyperparams_from": "rl-zoo3:Hopper-v4"}
    with pytest.raises(UsageError, match="KEY=VALUE"):
        parse_settings(["normalize"])


def test_a_preset_can_borrow_another_algorithm_or_the_zoo(tmp_path, monkeypatch):
    sac = preset_for("Pendulum-v1", "swing_up", {"algo": "TQC", "timesteps": 5000})
    assert sac["algo"] == "TQC" and sac["hyperparams"] == {} and sac["timesteps"] == 5000
    (tmp_path / "ppo.yml").write_text("Hopper-v4:\n  normalize: true\n  n_envs: 1\n"
                                      "  policy: 'MlpPolicy'\n  gamma: 0.999\n")
    monkeypatch.setattr(presets, "zoo_dir", lambda: tmp_path)  # rl_zoo3's hyperparams folder
    zoo = preset_for("Hopper-v5", "hop", {"hyperparams_from": "rl-zoo3:Hopper-v4"})
    assert zoo["source"] == "rl-zoo3:ppo/Hopper-v4"
    assert zoo["normalize"] and zoo["n_envs"] == 1 and zoo["hyperparams"] == {"gamma": 0.999}
    assert zoo["timesteps"] == preset_for("Hopper-v5", "hop", {})["timesteps"]


def test_bench_experts_appends_rows_resumes_and_writes_the_table(tmp_path):
    results, md = tmp_path / "cal.jsonl", tmp_path / "experts.md"
    args = ("bench", "experts", "--task", "CartPole-v1:balance", "--seeds", "1", "--set",
            "timesteps=2048", "--results", str(results), "--table", str(md), "--jobs", "1")
    proc = t2r(*args)
    assert proc.returncode == 0, proc.stderr
    rows = read_rows(results)
    assert {r["reward"] for r in rows} == {"expert", "sparse"} and len(rows) == 2
    assert all(r["steps"] >= 2048 and r["threshold"] == 475 for r in rows)
    assert "| CartPole-v1:balance | PPO" in md.read_text()
    met = sum(r["score"] >= 475 for r in rows if r["reward"] == "expert")
    assert proc.stdout.strip().endswith(f"experts meeting their threshold: {met} of 1")
    again = t2r(*args)
    assert again.returncode == 0 and "2 of 2 trainings already in" in again.stdout
    assert len(read_rows(results)) == 2
    assert not (tmp_path / "cal.jsonl.work").exists()  # the trainings' folders are removed
    assert t2r("bench", "experts", "--task", "CartPole-v1:nope").returncode == 2


def test_a_stopped_calibration_resumes_its_training_from_the_checkpoint(tmp_path, monkeypatch):
    from test_checkpoint import _killed

    from text2reward.calibrate import calibrate, train_one, work_folder

    settings = {"timesteps": 4096, "checkpoint_every_s": 1e-6}
    results, work = tmp_path / "cal.jsonl", tmp_path / "cal.jsonl.work"
    folder = work_folder(work, "CartPole-v1:balance", "expert", 0, settings)
    # the calibration's process killed after a checkpoint
    _killed(monkeypatch, 2048, train_one, "CartPole-v1", "balance", "expert", 0, settings,
            str(folder))
    rows = calibrate(["CartPole-v1:balance"], 1, ["expert"], settings, results, 1, work)
    assert rows[0]["resumed_from"] >= 2048 and rows[0]["steps"] < 4096 + 2048
    assert not work.exists()


def test_a_row_is_done_only_for_the_reward_program_it_trained():
    from text2reward.calibrate import pending, reward_path, reward_sha

    sha = reward_sha(reward_path("CartPole-v1", "balance", "expert"))
    row = {"task": "CartPole-v1:balance", "reward": "expert", "seed": 0, "settings": {}}
    args = (["CartPole-v1:balance"], 1, ["expert"], {})
    assert pending(*args, [{**row, "reward_sha": sha}]) == ([], 1)
    changed = [{**row, "reward_sha": "0" * 12}]  # the expert was edited since
    assert pending(*args, changed) == ([("CartPole-v1:balance", "expert", 0)], 1)
    assert pending(*args, [row])[0]  # a row from before programs were hashed


def test_table_groups_seeds_and_counts_experts_meeting_the_threshold():
    row = {"task": "X-v0:t", "settings": {}, "algo": "PPO", "normalize": True, "budget": 1000,
           "threshold": 1.0, "wall_to_threshold_s": 5.0, "env_return": 10.0}
    rows = [{**row, "reward": "expert", "seed": 0, "score": 2.0},
            {**row, "reward": "expert", "seed": 1, "score": 0.5},
            {**row, "reward": "sparse", "seed": 0, "score": 0.1}]
    line = table(rows).splitlines()[2]
    assert line == "| X-v0:t | PPO + VecNormalize | 1,000 | 2, 0.5 | 1/2 | 5 | 10 | 0.1 | 1 |"
    edited = [{**r, "reward_sha": "b" * 12} for r in rows[:2]]  # the expert was changed
    lines = table(rows + edited).splitlines()[2:]
    assert lines == [line, "| X-v0:t | PPO + VecNormalize, expert bbbbbbbbbbbb | 1,000 | 2, 0.5 | "
                           "1/2 | 5 | 10 | 0.1 | 1 |"]
    assert json.dumps(rows)  # rows are plain JSON
