"""Worker process entry point: ``python -m text2reward.sandbox.worker JOB.json``.

Runs one runtime check or one training of an untrusted program, locked down before the
program is loaded. Progress goes to stdout as JSON lines; the result to ``result.json`` in the
job's directory, written atomically, so a result either exists whole or not at all.
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Any


def emit(event: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(event) + "\n")
    sys.stdout.flush()


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1))
    os.replace(tmp, path)


def write_result(out_dir: Path, result: dict[str, Any]) -> None:
    write_json_atomic(out_dir / "result.json", result)


def jsonable(value: Any) -> Any:
    """A preset as plain JSON: schedules and torch classes by their names."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, type):
        return f"{value.__module__}.{value.__qualname__}"
    return repr(value)


def _training_settings(preset: dict[str, Any], job) -> None:
    """What the job sets of the preset's training (budget, envs, early stop, pauses)."""
    if job.timesteps:
        preset["timesteps"] = job.timesteps
    if job.n_envs:
        preset["n_envs"] = job.n_envs
    preset["stop_when_solved"] = job.stop_when_solved
    if job.checkpoint_every_s is not None:
        preset["checkpoint_every_s"] = job.checkpoint_every_s
    preset["pause_at"] = list(job.pause_at)


def _run(job) -> dict[str, Any]:
    from text2reward.envs.spec import import_env_module, load_spec
    from text2reward.program import TRAINING_FAULT, RejectedProgram, RewardFault, RewardProgram
    from text2reward.sandbox.lockdown import lock_down
    from text2reward.training.presets import build_preset
    from text2reward.training.scoring import load_scorer

    if job.env_module:  # before the spec: the user's package registers the env id
        if job.env_module_path:
            sys.path.insert(0, job.env_module_path)
        import_env_module(job.env_module)
    if job.spec_path:  # the user's spec (`--spec`), checked by the command that made the job
        from text2reward.envs.userspec import load_spec_file

        load_spec_file(job.spec_path, job.env_id, check_env=False)
    spec = load_spec(job.env_id)
    spec.prepare()
    task = spec.tasks.get(job.task) if job.task else None
    preset = build_preset(spec, task)  # the spec's own, or rl-zoo3's with ours on top
    preset["hyperparams"].update(job.hyperparams)
    preset["env_kwargs"].update(job.env_kwargs)  # the run's --env-kwargs
    if job.backend:
        preset["backend"] = job.backend
    if job.kind == "success":  # a proposed success file, scored on random episodes
        from text2reward.critic.success import success_check

        return success_check(spec, preset["env_kwargs"], job)
    _training_settings(preset, job)
    scorer = load_scorer(spec, job.task, job.success_path)
    if job.kind == "train":  # what this policy is trained with, as rl-zoo3 keeps config.yml
        write_json_atomic(Path(job.out_dir) / "preset.json",
                          {**jsonable(preset), "seed": job.seed, "device": job.device})
    source = Path(job.program_path).read_text()
    device = "cpu"  # runtime checks run on the CPU
    if job.kind == "train":
        from text2reward.training.trainer import prebuild_vec_env, train

        device = _ready_device(job.device, preset)
        # A slow env gets a SubprocVecEnv, started now: locked down, no process can be started.
        prebuild_vec_env(spec, preset["env_kwargs"], int(preset.get("n_envs", 8)), job.seed,
                         {"cpu_seconds": int(job.timeout_s) + 30, "scratch": job.out_dir})
        from text2reward.training import experience

        # other candidates' transitions, read before lock-down (their folders are not this one)
        seen: dict[str, int] = {}
        shared = experience.load(job.shared_experience, seen) \
            if job.shared_experience and experience.learns_from_replay(preset) else None
        refresh = _experience_files(job) if job.experience_dir else None
    else:
        from text2reward.analysis.trajectories import load_episodes
        from text2reward.critic.runtime import runtime_check, trajectory_returns

        episodes = load_episodes(Path(job.pool_path)) if job.pool_path else []
    from text2reward.critic.runtime import env_layout

    # Make one env before lock-down: the first make of an env family imports its modules and
    # loads its native libraries (MuJoCo), which the locked-down process may no longer do.
    layout = env_layout(spec, preset["env_kwargs"])
    # Everything is imported; from here on the process is locked down (rlimits, Landlock,
    # capabilities, seccomp), then the candidate is loaded.
    applied = lock_down(cpu_seconds=int(job.timeout_s) + 30, scratch=job.out_dir,
                        gpu=device.startswith("cuda"))
    sandbox = {"sandbox": applied}
    try:
        program = RewardProgram.load(source, "<reward>")
    except RejectedProgram as exc:
        return {"status": "rejected", "findings": [str(f) for f in exc.findings], **sandbox}
    if job.kind == "check":
        verdict = runtime_check(spec, program, preset["env_kwargs"], seed=job.seed)
        result = {"status": "accepted" if verdict.accepted else "rejected", **verdict.as_dict(),
                  **sandbox}
        if verdict.accepted and episodes:
            try:
                result["pool_returns"] = trajectory_returns(spec, program, episodes, layout)
            except Exception as exc:  # untrusted: a failure on stored episodes is a rejection
                result.update(status="rejected", accepted=False,
                              findings=[f"on stored episodes: {type(exc).__name__}: {exc}"])
        return result
    try:
        metrics = train(spec, program, scorer, preset, Path(job.out_dir), seed=job.seed,
                        init_policy=job.init_policy, device=device, emit=emit, shared=shared,
                        record=job.record_experience, refresh=refresh, seen=seen)
    except RewardFault as exc:
        return {"status": "failed", "reason": f"{TRAINING_FAULT}{exc}", **sandbox}
    return {"status": "trained", "threshold": scorer.threshold, "score_kind": scorer.kind,
            "metric": scorer.metric, **metrics, **sandbox}


def _experience_files(job):
    """The experience files of the other trainings of the run in ``job.experience_dir``, in
    candidate order (read-only access, which the locked-down worker keeps)."""
    from text2reward.runfolder import candidate_files
    from text2reward.training.experience import FILE

    own = Path(job.out_dir).resolve()

    def files() -> list[str]:
        return [str(path) for _, path in candidate_files(job.experience_dir, FILE)
                if path.parent.resolve() != own]

    return files


def _ready_device(requested: str, preset: dict[str, Any]) -> str:
    """The training's device, chosen, and its libraries started before lock-down: CUDA
    cannot start under the worker's limits (it opens driver files and reserves address
    space), so a GPU's CUDA context is created now, and so is JAX's for the SBX backend."""
    import stable_baselines3  # noqa: F401  (import before lock-down)
    import torch

    from text2reward.training import backends
    from text2reward.training.trainer import resolve_device

    device = resolve_device(requested)
    if device.startswith("cuda"):
        torch.zeros(1, device=device)
    if backends.backend_of(preset) == "sbx":
        backends.prepare_jax("cpu" if device == "cpu" else "gpu")
        backends.algo_class(preset.get("algo", "PPO"), "sbx")
        import jax

        jax.devices()
    return device


def die_with_parent() -> None:
    """Ask Linux to kill this worker when the run that started it dies (even by kill -9)."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes
    import signal

    parent = os.getppid()
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(1)


def main(argv: list[str]) -> int:
    from text2reward.sandbox.job import Job

    die_with_parent()

    job = Job.from_file(argv[1])
    out_dir = Path(job.out_dir)
    start = time.perf_counter()
    try:
        result = _run(job)
    except MemoryError:
        result = {"status": "failed", "reason": "the worker ran out of memory"}
    except Exception as exc:
        tail = traceback.format_exc().strip().splitlines()[-3:]
        result = {"status": "failed", "reason": f"{type(exc).__name__}: {exc}", "traceback": tail}
    result["wall_time_s"] = time.perf_counter() - start
    write_result(out_dir, result)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
