"""A training killed part-way continues from its last checkpoint when it runs again in the
same folder: networks, optimisers, replay buffer, normalisation and the record of its episodes
come back, and it trains only the steps it had left."""

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
from test_cli import GOOD

from text2reward.envs.spec import load_spec
from text2reward.program import RewardProgram
from text2reward.training import checkpoint
from text2reward.training.scoring import load_scorer
from text2reward.training.trainer import train

PENDULUM = ('''
import numpy as np

def compute_reward(state, action, next_state):
    upright = -next_state.angle ** 2 - 0.1 * next_state.angular_velocity ** 2
    return upright, {"upright": upright}
''')


class Killed(Exception):
    """Stands for the process being killed just after a checkpoint was written."""


def _train(out: Path, env_id: str, task: str, source: str, timesteps: int, seed: int = 0,
           **preset_changes) -> dict:
    spec = load_spec(env_id)
    preset = {**spec.training_preset(spec.tasks[task]), "timesteps": timesteps,
              "checkpoint_every_s": 1e-6, "eval_episodes": 2, **preset_changes}
    if preset.get("algo") == "SAC":  # updates before the kill, so that they are restored
        preset["hyperparams"] = {**preset["hyperparams"], "learning_starts": 100}
    return train(spec, RewardProgram.load(source), load_scorer(spec, task, None), preset, out,
                 seed=seed, device="cpu")


def _kill_after(monkeypatch, steps: int) -> list[dict]:
    """Make the first checkpoint at or past ``steps`` kill the training; what it wrote."""
    saved: list[dict] = []
    save = checkpoint.Checkpointer.save

    def save_then_die(self):
        save(self)
        if self.run.model.num_timesteps >= steps:
            state = json.loads((self.out_dir / checkpoint.FOLDER / "state.json").read_text())
            saved.append({"state": state, "params": _params(self.run.model),
                          "norm": _norm(self.run.model)})
            raise Killed

    monkeypatch.setattr(checkpoint.Checkpointer, "save", save_then_die)
    return saved


def _killed(monkeypatch, steps: int, training, *args, **kwargs) -> dict:
    """Run ``training(*args, **kwargs)`` until its first checkpoint at or past ``steps``, kill
    it there, and return what that checkpoint held."""
    saved = _kill_after(monkeypatch, steps)
    with pytest.raises(Killed):
        training(*args, **kwargs)
    monkeypatch.undo()
    return saved[0]


def _norm(model) -> list | None:
    """VecNormalize's observation and return statistics, if the model trains with it."""
    env = model.get_env()
    if not hasattr(env, "obs_rms"):
        return None
    obs = env.obs_rms if isinstance(env.obs_rms, dict) else {"": env.obs_rms}
    return [[o.mean.tolist(), o.count] for _, o in sorted(obs.items())] + [
        env.ret_rms.var.tolist(), env.ret_rms.count]


def _params(model) -> np.ndarray:
    if hasattr(model.policy, "actor_state"):  # SBX: flax train states
        import jax

        leaves = jax.tree_util.tree_leaves([model.policy.actor_state, model.policy.qf_state,
                                            model.ent_coef_state])  # with optimiser states
        return np.concatenate([np.asarray(x, dtype=np.float64).ravel() for x in leaves])
    import torch

    def tensors(value):  # the networks' and the optimisers' (Adam's moments, SAC's entropy)
        if isinstance(value, torch.Tensor):
            yield value.detach().cpu().double().numpy().ravel()
        elif isinstance(value, dict):
            for key in sorted(value, key=str):
                yield from tensors(value[key])
        elif isinstance(value, list | tuple):
            for item in value:
                yield from tensors(item)

    return np.concatenate(list(tensors(model.get_parameters())))


def _expert(env_dir: str, task: str) -> str:
    return (Path(__file__).parents[1] / "envs" / env_dir / f"expert_{task}.py").read_text()


@pytest.mark.parametrize("env_id,task,source,timesteps,kill_at,changes", [
    ("CartPole-v1", "balance", GOOD, 4096, 2048, {"normalize": True}),  # PPO, VecNormalize
    ("Pendulum-v1", "swing_up", PENDULUM, 700, 400, {}),  # SAC: the replay buffer
    # simulator features; dict observations with VecNormalize; a user-registered image env
    ("Hopper-v5", "hop", _expert("Hopper-v5", "hop"), 2048, 1024, {"n_envs": 4}),
    ("FetchReach-v4", "reach", _expert("FetchReach-v4", "reach"), 2048, 1024, {}),
    ("text2reward/MiniGrid-Empty-Random-6x6-v0", "reach_goal",
     _expert("text2reward__MiniGrid-Empty-Random-6x6-v0", "reach_goal"), 2048, 1024, {}),
])
def test_a_killed_training_resumes_from_its_checkpoint(tmp_path, monkeypatch, env_id, task,
                                                       source, timesteps, kill_at, changes):
    out = tmp_path / "t"
    saved = _killed(monkeypatch, kill_at, _train, out, env_id, task, source, timesteps,
                    **changes)
    state = saved["state"]
    assert state["num_timesteps"] >= kill_at and state["finished"] and state["callback"]
    assert not (out / "policy.zip").exists()

    restored = {}
    restore = checkpoint.Checkpointer.restore

    def restore_and_look(self):
        restored["fresh"] = _params(self.run.model)
        ok = restore(self)
        buffer = getattr(self.run.model, "replay_buffer", None)
        restored.update(params=_params(self.run.model), ok=ok, norm=_norm(self.run.model),
                        finished=len(self.run.venv.finished),
                        buffer=None if buffer is None else (buffer.pos, buffer.full))
        return ok

    monkeypatch.setattr(checkpoint.Checkpointer, "restore", restore_and_look)
    result = _train(out, env_id, task, source, timesteps, **changes)
    assert restored["ok"] and np.array_equal(restored["params"], saved["params"])
    assert not np.array_equal(restored["fresh"], restored["params"])  # it had learnt
    assert restored["norm"] == saved["norm"]
    assert restored["norm"] is not None or env_id in ("Pendulum-v1", "text2reward/MiniGrid-"
                                                      "Empty-Random-6x6-v0")
    assert restored["finished"] == len(state["finished"])
    if restored["buffer"] is not None:  # every transition it had collected
        assert restored["buffer"] == (state["num_timesteps"], False)
    assert result["resumed_from"] == state["num_timesteps"]
    assert timesteps <= result["steps"] < timesteps + kill_at  # only the steps it had left
    assert result["snapshots"][0]["step"] < state["num_timesteps"] < result["snapshots"][-1]["step"]
    assert result["train_time_s"] >= state["train_time_s"]
    assert (out / "policy.zip").exists() and not (out / checkpoint.FOLDER).exists()


@pytest.mark.skipif(importlib.util.find_spec("sbx") is None, reason="the sbx extra")
def test_an_sbx_training_resumes_with_its_train_states(tmp_path, monkeypatch):
    out = tmp_path / "t"
    saved = _killed(monkeypatch, 400, _train, out, "Pendulum-v1", "swing_up", PENDULUM, 700,
                    backend="sbx")
    restored = []
    restore = checkpoint.Checkpointer.restore
    monkeypatch.setattr(checkpoint.Checkpointer, "restore",
                        lambda self: restored.append(_params(self.run.model)) or restore(self)
                        and not restored.append(_params(self.run.model)))
    result = _train(out, "Pendulum-v1", "swing_up", PENDULUM, 700, backend="sbx")
    before, after = restored  # a fresh model's states, then the checkpoint's
    assert np.array_equal(after, saved["params"]) and not np.array_equal(before, after)
    assert result["resumed_from"] == saved["state"]["num_timesteps"]
    assert 700 <= result["steps"] < 1100


def test_a_checkpoint_of_another_training_is_not_resumed(tmp_path, monkeypatch):
    out = tmp_path / "t"
    _killed(monkeypatch, 1024, _train, out, "CartPole-v1", "balance", GOOD, 3072)
    assert (out / checkpoint.FOLDER / "state.json").exists()
    result = _train(out, "CartPole-v1", "balance", GOOD, 3072, seed=1)  # another seed
    assert "resumed_from" not in result and result["steps"] >= 3072


def test_short_trainings_and_trainings_turned_off_write_none(tmp_path, monkeypatch):
    written = []
    monkeypatch.setattr(checkpoint.Checkpointer, "save", lambda self: written.append(1))
    _train(tmp_path / "a", "CartPole-v1", "balance", GOOD, 1024, checkpoint_every_s=600)
    _train(tmp_path / "b", "CartPole-v1", "balance", GOOD, 1024, checkpoint_every_s=0)
    assert written == []


def test_a_killed_worker_resumes_when_its_job_runs_again(tmp_path):
    """The real thing: a locked-down worker killed mid-training (SIGKILL to its process
    group), and the same job run again in the same folder."""
    from text2reward.sandbox.job import Job
    from text2reward.sandbox.local import kill_all, run_job

    program = tmp_path / "program.py"
    program.write_text(GOOD)
    job = Job("train", "CartPole-v1", str(program), str(tmp_path / "t"), task="balance",
              timesteps=60_000, checkpoint_every_s=0.2)
    state = tmp_path / "t" / checkpoint.FOLDER / "state.json"

    def kill_once_checkpointed(event):
        if event.get("event") == "progress" and event["step"] >= 8_000 and state.exists():
            kill_all()

    first = run_job(job, kill_once_checkpointed)
    assert first["status"] == "failed" and "killed" in first["reason"]
    at = json.loads(state.read_text())["num_timesteps"]
    result = run_job(job)
    assert result["status"] == "trained", result
    assert result["resumed_from"] >= at >= 8_000 and 60_000 <= result["steps"] < 60_000 + at
    assert not state.exists()


@pytest.mark.parametrize("decision", ["go", "behind at rung 2 (50%)"])
def test_a_training_killed_while_it_waits_at_a_pause_waits_there_again(tmp_path, monkeypatch,
                                                                       decision):
    from text2reward.sandbox.job import decision_path

    out = tmp_path / "a"
    out.mkdir()
    decision_path(out, 0.25).write_text("go")
    save = checkpoint.Checkpointer.save

    def save_then_die(self):  # killed as it waits at 0.5, its checkpoint written
        save(self)
        if (self.run.callback.pending or {}).get("pause") == 0.5:
            raise Killed

    monkeypatch.setattr(checkpoint.Checkpointer, "save", save_then_die)
    settings = {"pause_at": [0.25, 0.5], "checkpoint_every_s": 600.0}
    with pytest.raises(Killed):
        _train(out, "CartPole-v1", "balance", GOOD, 4096, **settings)
    monkeypatch.undo()
    decision_path(out, 0.5).write_text(decision)  # the run's decision, taken after the kill
    result = _train(out, "CartPole-v1", "balance", GOOD, 4096, **settings)
    assert result["resumed_from"] == 2048  # from the pause, not from the last rollout
    assert [(p["pause"], p["step"], p["decision"]) for p in result["pauses"]] == [
        (0.25, 1024, "go"), (0.5, 2048, decision)]
    if decision == "go":
        assert result["steps"] == 4096 and result["stopped_early"] is None
    else:  # stopped there: at most the one vector step that ends its learning
        assert result["stopped_early"] == decision and result["steps"] <= 2048 + 8


def test_a_training_failed_by_its_reward_leaves_no_checkpoint(tmp_path):
    from text2reward.program import RewardFault

    nan_when_tilted = ("import numpy as np\n\n\ndef compute_reward(state, action, next_state):\n"
                       "    r = np.where(np.abs(next_state.pole_angle) > 0.1, np.nan, 1.0)\n"
                       "    return r, {'r': r}\n")
    out = tmp_path / "a"
    with pytest.raises(RewardFault):  # after its first checkpoint (as its first rollout began)
        _train(out, "CartPole-v1", "balance", nan_when_tilted, 4096)
    assert not (out / checkpoint.FOLDER).exists()  # it would only fail again from there


def test_buffer_chunks_no_step_wrote_since_the_last_checkpoint_are_linked(tmp_path, monkeypatch):
    from gymnasium.spaces import Box
    from stable_baselines3.common.buffers import ReplayBuffer

    monkeypatch.setattr(checkpoint, "CHUNK_BYTES", 96)  # 8 rows of 3 float32 observations
    space = Box(-1, 1, (3,), dtype=np.float32)

    def filled(n: int, buffer=None):
        buffer = buffer or ReplayBuffer(100, space, Box(-1, 1, (1,)), n_envs=1)
        for _ in range(n):
            buffer.add(space.sample()[None], space.sample()[None], np.zeros((1, 1)),
                       np.ones(1), np.zeros(1), [{}])
        return buffer

    def inode(folder, chunk):
        return (tmp_path / folder / f"observations.{chunk}.npy").stat().st_ino

    def reloaded(folder):
        copy = ReplayBuffer(100, space, Box(-1, 1, (1,)), n_envs=1)
        checkpoint._load_buffer(copy, tmp_path / folder)
        return copy

    buffer = filled(30)
    checkpoint._save_buffer(buffer, tmp_path / "a", tmp_path / "none", None)
    filled(10, buffer)  # rows 30-39: chunk 3 (24-31) and a new chunk 4
    checkpoint._save_buffer(buffer, tmp_path / "b", tmp_path / "a", 10)
    at_b = buffer.observations[:40].copy()
    assert [inode("a", c) == inode("b", c) for c in range(4)] == [True, True, True, False]
    filled(70, buffer)  # rows 40-99 and, round the ring, 0-9
    checkpoint._save_buffer(buffer, tmp_path / "c", tmp_path / "b", 70)
    assert buffer.full and buffer.pos == 10
    assert [inode("b", c) == inode("c", c) for c in range(5)] == [False, False, True, True, True]
    b, c = reloaded("b"), reloaded("c")
    assert (b.pos, b.full, c.pos, c.full) == (40, False, 10, True)
    assert np.array_equal(b.observations[:40], at_b)
    for name in checkpoint.BUFFER_FIELDS:
        assert np.array_equal(getattr(c, name), getattr(buffer, name))


def test_a_damaged_checkpoint_is_discarded_and_the_training_starts_afresh(tmp_path, monkeypatch):
    out = tmp_path / "t"
    _killed(monkeypatch, 400, _train, out, "Pendulum-v1", "swing_up", PENDULUM, 700)
    for chunk in (out / checkpoint.FOLDER / "buffer").glob("observations.*.npy"):
        chunk.write_bytes(b"not an array")  # e.g. a disk fault, or another version's format
    result = _train(out, "Pendulum-v1", "swing_up", PENDULUM, 700)
    assert "resumed_from" not in result and "checkpoint_discarded" in result
    assert result["steps"] >= 700 and (out / "policy.zip").exists()
