"""Shared experience: off-policy trainings start from the run's earlier transitions, paid by
their own reward (training/experience.py)."""

import importlib
import json
from pathlib import Path

import numpy as np
import pytest
from test_cli import t2r

from text2reward.envs.spec import load_spec
from text2reward.program import RewardFault, RewardProgram
from text2reward.training import experience
from text2reward.training.presets import build_preset
from text2reward.training.scoring import load_scorer
from text2reward.training.trainer import prepare

# One env of each kind: flat observations, simulator features, dict observations.
KINDS = [("Pendulum-v1", "swing_up"), ("Hopper-v5", "hop"), ("FetchReach-v4", "reach")]


def _training(env_id: str, task: str, folder: Path, reward: str, timesteps: int,
              backend: str = "sb3", **kw):
    spec = load_spec(env_id)
    spec.prepare()
    preset = build_preset(spec, spec.tasks[task])
    preset.update(algo="SAC", timesteps=timesteps, n_envs=2, normalize=False, backend=backend,
                  hyperparams={"learning_starts": 64, "batch_size": 32, "buffer_size": 10_000,
                               "policy_kwargs": {"net_arch": [16, 16]}})
    path = spec.tasks[task].expert_path.with_name(f"{reward}_{task}.py")
    program = RewardProgram.load(path.read_text())
    folder.mkdir(parents=True, exist_ok=True)
    run = prepare(spec, program, load_scorer(spec, task, None), preset, folder, device="cpu",
                  **kw)
    run.model.learn(run.total, callback=run.callback)
    if run.recorder is not None:
        run.recorder.save()
    return run, program


@pytest.mark.parametrize("env_id,task", KINDS)
def test_a_training_starts_from_another_rewards_transitions_relabelled_by_its_own(
        tmp_path, env_id, task):
    first, sparse = _training(env_id, task, tmp_path / "a", "sparse", 300, record=True)
    shared = experience.load([tmp_path / "a" / experience.FILE])
    assert shared is not None and len(shared) == 300
    assert shared.rows.shape[1] == first.venv.layout.size  # simulator columns included
    # the transitions are those the first training stored in its replay buffer
    buffer = first.model.replay_buffer
    n = len(shared) // 2
    np.testing.assert_allclose(
        first.model.policy.scale_action(shared.actions[-2 * n:].astype(np.float64)),
        buffer.actions[:n].reshape(2 * n, -1), atol=1e-6)
    np.testing.assert_array_equal(shared.dones[-2 * n:], buffer.dones[:n].reshape(-1))

    second, expert = _training(env_id, task, tmp_path / "b", "expert", 100, shared=shared,
                               record=True)
    info = second.sharing.info
    assert info["transitions"] == len(shared) and info["files"] == 1 and info["updates"] > 0
    paid = experience.relabel(expert, second.venv.schema, shared)
    np.testing.assert_allclose(second.model.replay_buffer.rewards[:n].reshape(-1), paid,
                               rtol=1e-5)
    assert not np.allclose(paid, experience.relabel(sparse, second.venv.schema, shared))
    # the second training keeps only its own transitions for the candidates after it
    assert len(experience.load([tmp_path / "b" / experience.FILE])) == 100


@pytest.mark.parametrize("env_id,task,backend", [
    ("Pendulum-v1", "swing_up", "sb3"), *((env_id, task, "sbx") for env_id, task in KINDS)])
def test_the_updates_owed_for_shared_transitions_are_learnt_in_bounded_samples(
        tmp_path, monkeypatch, env_id, task, backend):
    """SBX samples every batch of a train() call at once: 20,000 updates owed for 300k shared
    Ant transitions were one 4 GiB sample, and the worker ran out of memory. They are taken
    in calls that sample at most MAX_SAMPLE_BYTES of observations."""
    if backend == "sbx":
        pytest.importorskip("sbx")
    first, _ = _training(env_id, task, tmp_path / "a", "sparse", 300, record=True)
    shared = experience.load([tmp_path / "a" / experience.FILE])
    row = experience.sample_row_bytes(first.model.replay_buffer)
    # batches of 32: 3 updates a call
    monkeypatch.setattr(experience, "MAX_SAMPLE_BYTES", 100 * row)
    algo = importlib.import_module("sbx" if backend == "sbx" else "stable_baselines3").SAC
    calls: list[int] = []
    real = algo.train

    def train(self, gradient_steps, batch_size):
        calls.append(gradient_steps * batch_size)
        return real(self, gradient_steps=gradient_steps, batch_size=batch_size)

    monkeypatch.setattr(algo, "train", train)
    second, _ = _training(env_id, task, tmp_path / "b", "expert", 100, backend, shared=shared)
    updates = second.sharing.info["updates"]
    assert updates > 3 and max(calls) <= 100
    assert calls[:-(-updates // 3)] == [96] * (updates // 3) + [32 * (updates % 3)] * bool(
        updates % 3)  # the shared transitions' updates come first, in calls of 3


def test_files_that_do_not_fit_are_left_out(tmp_path):
    good = {"rows": np.zeros((4, 3)), "next_rows": np.ones((4, 3)),
            "actions": np.zeros((4, 1)), "dones": np.zeros(4, bool),
            "timeouts": np.zeros(4, bool)}
    np.savez(tmp_path / "good.npz", **good)
    np.savez(tmp_path / "wide.npz", **{**good, "rows": np.zeros((4, 5)),
                                       "next_rows": np.zeros((4, 5))})
    np.savez(tmp_path / "nan.npz", **{**good, "rows": np.full((4, 3), np.nan)})
    np.savez(tmp_path / "short.npz", **{**good, "dones": np.zeros(3, bool)})
    (tmp_path / "junk.npz").write_bytes(b"not a file of arrays")
    paths = [tmp_path / f"{n}.npz" for n in ("good", "wide", "nan", "short", "junk", "gone")]
    loaded = experience.load(paths)
    assert len(loaded) == 4 and loaded.sources == 1
    assert experience.load(paths[2:]) is None  # a file of its own width is fine alone


def test_a_reward_that_fails_on_the_shared_transitions_is_the_programs_fault(tmp_path):
    _training("Pendulum-v1", "swing_up", tmp_path / "a", "sparse", 200, record=True)
    shared = experience.load([tmp_path / "a" / experience.FILE])
    spec = load_spec("Pendulum-v1")
    from text2reward.envs.layout import ObsLayout, StateLayout
    from text2reward.envs.state import RowSchema

    schema = RowSchema(spec, StateLayout(ObsLayout(keys=None, shapes=((3,),))))
    bad = RewardProgram.load(
        "import numpy as np\n"
        "def compute_reward(state, action, next_state):\n"
        "    r = np.where(next_state.obs[:, 0] > 2.0, np.nan, 0.0)\n"  # never on reachable rows
        "    return r - np.log(np.abs(action[:, 0]) - 5.0), {}\n")
    with pytest.raises(RewardFault, match="shared experience"):
        experience.relabel(bad, schema, shared)


def two_rounds(out: Path, timesteps: int, *extra: str) -> tuple[dict, dict]:
    """A Pendulum (SAC) run of one candidate per round, two rounds, side by side (so a round
    is given only earlier rounds' transitions); the two trainings' results."""
    proc = t2r("run", "--env", "Pendulum-v1", "--task", "swing_up", "--model", "offline",
               "--samples", "1", "--rounds", "2", "--timesteps", str(timesteps),
               "--keep-going", *extra, "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    return tuple(json.loads((out / "rounds" / f"r{r:02d}" / "c00" / "result.json").read_text())
                 for r in (0, 1))


def test_a_search_gives_later_rounds_the_earlier_transitions(tmp_path):
    out = tmp_path / "run"
    first, second = two_rounds(out, 600, "--no-render")
    assert "shared" not in first
    assert second["shared"]["files"] == 1 and second["shared"]["transitions"] >= 590
    assert (out / "rounds" / "r01" / "c00" / experience.FILE).is_file()


def test_without_shared_experience_and_with_on_policy_presets_nothing_is_kept(tmp_path):
    out = tmp_path / "run"
    _, second = two_rounds(out, 400, "--no-shared-experience", "--no-render")
    assert not list(out.rglob(experience.FILE))
    assert "shared" not in second
    assert json.loads((out / "config.json").read_text())["shared_experience"] is False
    # PPO (CartPole's preset) learns from no replay buffer: nothing is kept or shared
    out = tmp_path / "ppo"
    proc = t2r("run", "--env", "CartPole-v1", "--task", "balance", "--model", "offline",
               "--samples", "1", "--rounds", "2", "--timesteps", "1024", "--keep-going",
               "--no-render", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert not list(out.rglob(experience.FILE))


def test_with_the_budget_bandit_candidates_learn_from_each_others_transitions(tmp_path):
    success = tmp_path / "never.py"  # nothing meets it: every candidate stalls at half budget
    success.write_text("THRESHOLD = 1.0\n\ndef score(episode):\n    return 0.0\n")
    out = tmp_path / "run"
    proc = t2r("run", "--env", "Pendulum-v1", "--task", "swing up", "--model", "offline",
               "--samples", "2", "--rounds", "1", "--timesteps", "1000", "--success",
               str(success), "--no-render", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    moves = [json.loads(line) for line in (out / "journal.jsonl").read_text().splitlines()
             if '"budget_moved"' in line]
    assert moves[0]["from"] == 0 and moves[0]["to"] == 1 and moves[0]["pause"] == 0.5
    first = json.loads((out / "rounds" / "r00" / "c00" / "result.json").read_text())
    second = json.loads((out / "rounds" / "r00" / "c01" / "result.json").read_text())
    # the second started from the first's 500 (it paused at half its budget) ...
    start = second["shared"]["transitions"] - sum(
        x["transitions"] for x in second["shared"].get("refreshes", []))
    assert second["shared"]["files"] == 1 and 495 <= start <= 500
    # ... and trained to its end (the first's scores were no better); the first, given the
    # budget back at its pause, took the second's 1000 before going on
    assert second["steps"] == 1000 and "refreshes" not in second["shared"]
    assert first["shared"]["refreshes"] == [{"pause": 0.5, "transitions": 1000}]
    assert first["shared"]["updates"] == 1000  # the preset's one update per env step
    report = (out / "report.html").read_text()
    assert "r0 c1 learned from" in report and "transitions of 1 other training" in report


def test_the_recorder_keeps_the_latest_transitions_up_to_the_buffers_size(tmp_path):
    from types import SimpleNamespace

    stored = []
    buffer = SimpleNamespace(buffer_size=3000, n_envs=1,
                             add=lambda *args, **kwargs: stored.append(args[3]))
    venv = SimpleNamespace()
    recorder = experience.Recorder(SimpleNamespace(replay_buffer=buffer), venv,
                                   tmp_path / experience.FILE)
    assert venv.keep_transitions
    for step in range(5000):  # more than the buffer holds, and than one part list
        venv.last_transition = (np.full((1, 3), step), np.full((1, 3), step + 1),
                                np.zeros((1, 1)))
        buffer.add(None, None, None, step, np.array([step % 200 == 199]),
                   [{"TimeLimit.truncated": step % 200 == 199}])
    recorder.save()
    assert len(stored) == 5000  # the buffer's own add still ran every time
    kept = experience.load([tmp_path / experience.FILE])
    assert len(kept) == 3000 and kept.rows[0, 0] == 2000 and kept.next_rows[-1, 0] == 5000
    assert kept.dones.sum() == 15 and kept.timeouts.sum() == 15


def test_a_resumed_run_forgets_what_its_unfinished_trainings_had_collected(tmp_path):
    from text2reward.search.resume import Restored
    from text2reward.search.start import forget_unfinished_experience

    for r, c in ((0, 0), (0, 1), (1, 0)):
        folder = tmp_path / "rounds" / f"r{r:02d}" / f"c{c:02d}"
        folder.mkdir(parents=True)
        (folder / experience.FILE).write_bytes(b"x")
    restored = Restored(records={0: {0: object()}})  # only r0 c0 finished
    forget_unfinished_experience(tmp_path, restored)
    left = sorted(p.parent.name + p.parent.parent.name for p in tmp_path.rglob(experience.FILE))
    assert left == ["c00r00"]
