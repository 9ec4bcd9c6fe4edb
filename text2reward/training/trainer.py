"""Train an SB3 policy on an env whose reward is a reward program, and score it.

Runs inside a sandboxed worker (see sandbox/worker.py); everything here is in-process and fast: the
reward is one vectorised call per vector step.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from text2reward.analysis.trajectories import save_episodes
from text2reward.envs.spec import EnvSpec
from text2reward.program import RewardFault, RewardProgram
from text2reward.sandbox.job import STOP_FILE
from text2reward.training import backends, checkpoint, experience, normalize
from text2reward.training.scoring import Scorer
from text2reward.training.summary import summarise
from text2reward.training.wrapper import RewardVecEnv

Emit = Callable[[dict[str, Any]], None]


SLOW_STEP_S = 1e-3  # envs slower than this per step get a process each (SubprocVecEnv)
_prebuilt: dict[tuple, Any] = {}  # vector envs made before lock-down, by make_vec_env's args


def env_step_cost(spec: EnvSpec, kwargs: dict[str, Any], steps: int = 30) -> float:
    """Seconds per step of one copy of the env under random actions (a few steps, measured)."""
    import gymnasium as gym

    env = gym.make(spec.env_id, **kwargs)
    try:
        env.reset(seed=0)
        env.action_space.seed(0)
        start = time.perf_counter()
        for _ in range(steps):
            _, _, terminated, truncated, _ = env.step(env.action_space.sample())
            if terminated or truncated:
                env.reset()
        return (time.perf_counter() - start) / steps
    finally:
        env.close()


def can_start_processes() -> bool:
    """False inside a locked-down worker (its seccomp filter refuses fork and exec)."""
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return True
    return not any(line.split() == ["Seccomp:", "2"] for line in status.splitlines())


def choose_vec_env(spec: EnvSpec, kwargs: dict[str, Any], n_envs: int) -> str:
    """"subproc" for slow envs (> SLOW_STEP_S per step) with n_envs > 1, else "dummy": cheap
    envs step fastest in-process (measured here: DummyVecEnv beats SubprocVecEnv on CartPole,
    Pendulum and HalfCheetah)."""
    if n_envs <= 1 or not can_start_processes():
        return "dummy"
    return "subproc" if env_step_cost(spec, kwargs) > SLOW_STEP_S else "dummy"


def _child_env(env, probes: list, lock: dict[str, Any] | None):
    """In a SubprocVecEnv's env process: gather simulator features, then lock the process down
    like the worker (it runs no candidate code, but obeys the locked-down parent's commands)."""
    if probes:
        from text2reward.envs.sim import SimFeatures

        env = SimFeatures(env, probes)
    if lock is not None:
        from text2reward.sandbox.lockdown import lock_down

        lock_down(**lock)
    return env


def _env_maker(env_id: str, kwargs: dict[str, Any], rank: int, seed: int,
               wrapper: Callable | None = None) -> Callable:
    """One env of a vector env, made as SB3's make_vec_env makes it (render_mode "rgb_array"
    where the env takes one, its action space seeded with ``seed + rank``), but without SB3's
    Monitor; then ``wrapper``."""

    def make():
        import gymnasium as gym

        try:
            env = gym.make(env_id, **{"render_mode": "rgb_array", **kwargs})
        except TypeError:
            env = gym.make(env_id, **kwargs)
        env.action_space.seed(seed + rank)
        return wrapper(env) if wrapper is not None else env

    return make


def make_vec_env(spec: EnvSpec, kwargs: dict[str, Any], n_envs: int, seed: int,
                 vec_env: str = "auto", lock: dict[str, Any] | None = None):
    """``n_envs`` copies of the env: a DummyVecEnv, or a SubprocVecEnv for slow envs
    (``vec_env="auto"`` measures one env's step cost; "dummy"/"subproc" force one).

    Made and seeded as SB3's make_vec_env makes them, but without its Monitor wrapper:
    RewardVecEnv records every episode itself (and puts the ``info["episode"]``
    SB3 logs from), so a Monitor per env would only repeat that work on every env step
    (measured: 25 us per vector step of 16 HalfCheetah envs, 1.8% of a training). In-process
    envs step in text2reward's DummyVecEnv, which copies infos shallowly (see vec_env.py).

    A vector env prebuilt with the same arguments (see prebuild_vec_env) is returned first.
    ``lock``: lock_down() arguments applied in each env process of a SubprocVecEnv.
    """
    from functools import partial

    from stable_baselines3.common.vec_env import SubprocVecEnv

    from text2reward.training.vec_env import DummyVecEnv

    key = _vec_env_key(spec, kwargs, n_envs, seed)
    if key in _prebuilt:
        return _prebuilt.pop(key)
    kind = choose_vec_env(spec, kwargs, n_envs) if vec_env == "auto" else vec_env
    if kind == "subproc":
        import multiprocessing

        method = "fork" if "fork" in multiprocessing.get_all_start_methods() else None
        wrapper = partial(_child_env, probes=spec.probes, lock=lock)
        makers = [_env_maker(spec.env_id, kwargs, rank, seed, wrapper)
                  for rank in range(n_envs)]
        venv = SubprocVecEnv(makers, start_method=method)
    else:
        venv = DummyVecEnv([_env_maker(spec.env_id, kwargs, rank, seed)
                            for rank in range(n_envs)])
    venv.seed(seed)
    return venv


def _vec_env_key(spec: EnvSpec, kwargs: dict[str, Any], n_envs: int, seed: int) -> tuple:
    """What a prebuilt vector env is found by: make_vec_env's arguments."""
    return spec.env_id, repr(sorted(kwargs.items())), int(n_envs), int(seed)


def prebuild_vec_env(spec: EnvSpec, kwargs: dict[str, Any], n_envs: int, seed: int,
                     lock: dict[str, Any]) -> str:
    """Choose and, for a SubprocVecEnv, make the training's vector env now: a locked-down worker
    can no longer start processes. Its env processes lock themselves down with ``lock``
    before obeying any command. The next make_vec_env with the same arguments returns it."""
    kind = choose_vec_env(spec, kwargs, n_envs)
    if kind == "subproc":
        _prebuilt[_vec_env_key(spec, kwargs, n_envs, seed)] = make_vec_env(
            spec, kwargs, n_envs, seed, "subproc", lock)
    return kind


def resolve_device(device: str) -> str:
    """"auto": the GPU when torch sees one, else the CPU; anything else as given."""
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def _make_callback(env: RewardVecEnv, total: int, threshold: float | None, emit: Emit,
                   stop_file: Path | None = None, stop_when_solved: bool = False,
                   pauses: tuple[float, ...] = (), **hooks):
    from text2reward.training.callbacks import SnapshotCallback

    return SnapshotCallback(env, total, threshold, emit, stop_file, stop_when_solved, pauses,
                            **hooks)


def quiet_logger():
    """An SB3 logger that writes nothing anywhere."""
    from stable_baselines3.common.logger import Logger

    return Logger(None, [])


def _tensorboard_dir(out_dir: Path) -> str | None:
    """``out_dir/tb`` when the tensorboard package is installed; SB3 then writes event files."""
    import importlib.util

    return str(out_dir / "tb") if importlib.util.find_spec("tensorboard") else None


def build_model(preset: dict[str, Any], venv, seed: int, device: str, out_dir: Path):
    """The preset's SB3 model on ``venv``, logging to TensorBoard in ``out_dir/tb`` when the
    package is installed, else nowhere."""
    tensorboard = _tensorboard_dir(out_dir)
    if backends.backend_of(preset) == "sbx":
        backends.prepare_jax(device)
    algo = backends.algo_class(preset.get("algo", "PPO"), backends.backend_of(preset))
    model = algo(preset.get("policy", "MlpPolicy"), venv, seed=seed, device=device, verbose=0,
                 tensorboard_log=tensorboard, **preset.get("hyperparams", {}))
    if tensorboard is None:
        model.set_logger(quiet_logger())  # else SB3 leaves an empty SB3-<date> folder in /tmp
    return model


def evaluate(model, spec: EnvSpec, kwargs: dict, program, scorer: Scorer, episodes: int,
             seed: int, stats: normalize.ObsStats | None = None):
    """Run ``episodes`` deterministic episodes, one per env; their summary and raw arrays.
    ``stats``: the observation statistics the policy was trained with, if any."""
    venv = RewardVecEnv(make_vec_env(spec, kwargs, episodes, seed + 10_000), spec, program,
                        scorer.fn)
    venv.recent_raw = deque(maxlen=episodes)
    obs = venv.reset()
    while len(venv.finished) < episodes:
        action, _ = model.predict(obs if stats is None else stats.apply(obs), deterministic=True)
        obs, _, _, _ = venv.step(action)
    venv.close()
    return summarise(venv.finished[:episodes], scorer.threshold), list(venv.recent_raw)


@dataclass
class Training:
    """A training set up and not yet run: the reward-wrapped vector env, the SB3 model and
    the callback that records snapshots (and stops it early)."""

    venv: RewardVecEnv
    model: Any
    callback: Any
    total: int
    recorder: experience.Recorder | None = None  # keeps its transitions for later candidates
    sharing: experience.Sharing | None = None  # what it takes of the other candidates' ones


def prepare(
    spec: EnvSpec,
    program: RewardProgram,
    scorer: Scorer,
    preset: dict[str, Any],
    out_dir: Path,
    seed: int = 0,
    device: str = "auto",
    emit: Emit = lambda event: None,
    init_policy: str | None = None,
    shared: experience.Experience | None = None,
    record: bool = False,
    refresh: Callable[[], list[str]] | None = None,
    seen: dict[str, int] | None = None,
) -> Training:
    """Everything train() runs, made: ``model.learn(total, callback=callback)`` trains.

    For a preset that learns from a replay buffer (see training/experience.py): ``shared``,
    other trainings' transitions to start from (relabelled by ``program``; ``seen``: how many
    each file had then); ``refresh``, the files to read again after each pause for what the
    others collected since; ``record``, keep this training's own in
    ``out_dir/experience.npz`` for the others."""
    import torch

    torch.set_num_threads(1)
    kwargs = preset.get("env_kwargs", {})
    total = int(preset["timesteps"])
    venv = RewardVecEnv(make_vec_env(spec, kwargs, int(preset.get("n_envs", 8)), seed), spec,
                        program, scorer.fn)
    policy_env = normalize.wrap(venv, preset)  # the policy's view; the reward's stays raw
    model = build_model(preset, policy_env, seed, resolve_device(device), out_dir)
    if init_policy is not None and backends.backend_of(preset) == "sbx":
        backends.load_sbx_params(model, Path(init_policy))
    elif init_policy is not None:
        model.set_parameters(init_policy, exact_match=True, device=model.device)
        stats = normalize.ObsStats.load(normalize.beside(init_policy))
        if stats is not None and policy_env is not venv:
            stats.restore(policy_env)
    run = Training(venv, model, None, total)
    hooks: dict[str, Any] = {}
    if experience.learns_from_replay(preset):
        if record:
            run.recorder = experience.Recorder(model, venv, out_dir / experience.FILE)
            hooks["before_pause"] = run.recorder.save
        if shared is not None or refresh is not None:
            run.sharing = experience.Sharing(model, venv, program, total, shared, refresh, seen)
            hooks.update(on_start=run.sharing.on_start, after_pause=run.sharing.on_pause)
    run.callback = _make_callback(venv, total, scorer.threshold, emit, out_dir / STOP_FILE,
                                  bool(preset.get("stop_when_solved", False)),
                                  tuple(preset.get("pause_at") or ()), **hooks)
    return run


def _checkpointer(run: Training, program: RewardProgram, preset: dict[str, Any], out_dir: Path,
                  seed: int) -> checkpoint.Checkpointer | None:
    """Checkpoints for ``run`` (see training/checkpoint.py), or None where its preset turns
    them off. A training that pauses for the run's decisions writes one at each pause too."""
    every = checkpoint.every_s(preset)
    if every <= 0:
        checkpoint.remove(out_dir)
        return None
    saver = checkpoint.Checkpointer(
        run, out_dir, every, checkpoint.fingerprint(program.source, preset, seed),
        backends.backend_of(preset))
    run.callback.before_rollout = saver.maybe_save
    # at each pause too: killed while it waits for the run's decision (the budget bandit may
    # keep it waiting for hours), it continues by waiting there again (callback.pending)
    run.callback.at_pause = saver.save
    return saver


def obs_stats(model) -> normalize.ObsStats | None:
    """The observation statistics ``model`` was trained with (None: raw observations)."""
    from stable_baselines3.common.vec_env import VecNormalize

    norm = model.get_env()
    return normalize.ObsStats.of(norm) if isinstance(norm, VecNormalize) else None


def train(
    spec: EnvSpec,
    program: RewardProgram,
    scorer: Scorer,
    preset: dict[str, Any],
    out_dir: Path,
    seed: int = 0,
    device: str = "auto",
    emit: Emit = lambda event: None,
    init_policy: str | None = None,
    shared: experience.Experience | None = None,
    record: bool = False,
    refresh: Callable[[], list[str]] | None = None,
    seen: dict[str, int] | None = None,
) -> dict[str, Any]:
    """Train a policy with ``program`` as the reward, save it, and return its metrics.

    ``init_policy``: a policy saved by an earlier training of the same env and preset to start
    from (its weights and optimiser state; the reward and everything else are this one's).

    A long training keeps a checkpoint in ``out_dir`` and continues from it when it is run
    again there after being killed (training/checkpoint.py)."""
    run = prepare(spec, program, scorer, preset, out_dir, seed, device, emit, init_policy,
                  shared, record, refresh, seen)
    saver = _checkpointer(run, program, preset, out_dir, seed)
    discarded = None
    try:
        resumed = saver is not None and saver.restore()
    except Exception as exc:  # noqa: BLE001 - a damaged or older checkpoint: start afresh
        discarded = f"{type(exc).__name__}: {exc}"
        checkpoint.remove(out_dir)
        run.venv.close()
        run = prepare(spec, program, scorer, preset, out_dir, seed, device, emit, init_policy,
                      shared, record, refresh, seen)
        saver, resumed = _checkpointer(run, program, preset, out_dir, seed), False
    if run.recorder is not None and not resumed:  # what an earlier attempt recorded
        run.recorder.path.unlink(missing_ok=True)
    venv, model, callback, total = run.venv, run.model, run.callback, run.total
    start = time.perf_counter()
    try:
        model.learn(total_timesteps=max(total - model.num_timesteps, 0), callback=callback,
                    reset_num_timesteps=not resumed)
    except RewardFault:  # the program's fault: it would fail again from the checkpoint
        checkpoint.remove(out_dir)
        raise
    train_time = time.perf_counter() - start + (saver.elapsed_before if saver else 0.0)
    if run.recorder is not None:
        run.recorder.save()
    backends.save_policy(model, out_dir / "policy.zip", backends.backend_of(preset))
    stats = obs_stats(model)
    if stats is not None:
        stats.save(normalize.beside(out_dir / "policy.zip"))
    final, raw = evaluate(model, spec, preset.get("env_kwargs", {}), program, scorer,
                          int(preset.get("eval_episodes", 10)), seed, stats)
    save_episodes(out_dir / "episodes.npz", callback.raw + raw)
    venv.close()
    checkpoint.remove(out_dir)  # everything is saved: nothing left to resume
    return {
        "steps": int(model.num_timesteps),
        "train_time_s": train_time,
        "steps_per_s": model.num_timesteps / max(train_time, 1e-9),
        "eval": final,
        "training": summarise(venv.finished, scorer.threshold),
        "snapshots": callback.snapshots,
        "stopped_early": callback.stopped,
        "pauses": callback.pause_log,
        "budget": total,
        "policy": "policy.zip",
        "warm_start": init_policy is not None,
        **({"resumed_from": saver.resumed_from, "resumed_train_time_s": saver.elapsed_before}
           if saver and saver.resumed_from else {}),
        **({"checkpoint_discarded": discarded} if discarded else {}),
        **({"shared": run.sharing.info} if run.sharing is not None
           and (run.sharing.info["transitions"] or "skipped" in run.sharing.info) else {}),
    }
