"""Performance measurements, side by side in one run (never timed assertions in tests).

Each benchmark returns its rows and a final ratio; the CLI prints the ratio as the last line.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from text2reward.envs.spec import EnvSpec, load_spec
from text2reward.errors import UsageError
from text2reward.program import RewardProgram
from text2reward.training.scoring import load_scorer

Log = Callable[[str], None]


def _program_for(spec: EnvSpec) -> tuple[str, str | None]:
    """A realistic generated-style reward: the first task's expert program."""
    task = next(iter(spec.tasks.values()), None)
    if task is None or not task.expert_path.exists():
        raise ValueError(f"{spec.env_id} has no task with an expert reward to benchmark with")
    return task.expert_path.read_text(), task.name


def _preset(spec: EnvSpec, task: str | None, timesteps: int) -> dict[str, Any]:
    """The env's own training preset (not a task's: the benchmarks compare one configuration
    across commits) with the task's env settings."""
    from text2reward.training.presets import build_preset

    preset = build_preset(spec)
    preset["env_kwargs"] = spec.env_kwargs(spec.tasks.get(task) if task else None)
    preset["timesteps"] = timesteps
    preset["stop_when_solved"] = False  # every training runs its whole budget
    return preset


def _train_wrapped(spec: EnvSpec, preset: dict[str, Any], source: str, task: str | None,
                   seed: int) -> float:
    from text2reward.training.trainer import train

    scorer = load_scorer(spec, task, None)
    with tempfile.TemporaryDirectory() as out:
        result = train(spec, RewardProgram.load(source), scorer, preset, Path(out), seed=seed,
                       device="cpu")
    return result["steps_per_s"]


@contextmanager
def _one_cpu(log: Log):
    """Run on one CPU (children inherit it): measured here, the same training's speed varies
    by about 12% (coefficient of variation) when the scheduler moves it between cores and by
    about 5% when it stays on one."""
    if not hasattr(os, "sched_setaffinity"):
        yield
        return
    before = os.sched_getaffinity(0)
    cpu = min(before)
    os.sched_setaffinity(0, {cpu})
    log(f"pinned to CPU {cpu}")
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


def overhead(env_id: str, timesteps: int, rounds: int, log: Log) -> float:
    """Training steps/s with a generated reward vs the env's own reward, same config.

    Three trainings of ``timesteps`` steps each advance in turns, a chunk of whole rollouts
    per turn, over ``rounds`` rounds in rotating order, so that drifts in the machine's speed
    fall on all three alike:
    - "generated": the generated reward as ``train()`` runs it;
    - "sb3": the env's own reward on envs from SB3's own ``make_vec_env`` (Monitor on every
      env, SB3's DummyVecEnv): the standard SB3 training;
    - "bare": the env's own reward on text2reward's vector env (no Monitor: the reward wrapper
      records episodes itself; infos copied shallowly, see training/vec_env.py), so the
      generated reward's ratio to it is the reward path's own cost.
    Returns the median over rounds of the generated reward's steps/s over SB3's (robust to a
    round the machine slowed down)."""
    spec = load_spec(env_id)
    source, task = _program_for(spec)
    preset = _preset(spec, task, timesteps)
    log(f"program: the {task!r} expert reward of {env_id}")
    with _one_cpu(log), tempfile.TemporaryDirectory() as out:
        runs = _overhead_runs(spec, preset, source, task, Path(out))
        chunk = _chunk(preset, timesteps, rounds)
        times: dict[str, list[float]] = {name: [] for name in runs}
        ratios: dict[str, list[float]] = {"sb3": [], "bare": []}
        names = list(runs)
        for r in range(rounds):
            order = names[r % 3 :] + names[: r % 3]
            for name in order if r % 2 == 0 else order[::-1]:
                model, callback = runs[name]
                start = time.perf_counter()
                model.learn(chunk, callback=callback, reset_num_timesteps=r == 0)
                times[name].append(time.perf_counter() - start)
            rate = {name: chunk / times[name][-1] for name in names}
            for name in ratios:
                ratios[name].append(rate["generated"] / rate[name])
            log(f"round {r}: generated reward {rate['generated']:.0f} steps/s, SB3 with env "
                f"reward {rate['sb3']:.0f} ({rate['generated'] / rate['sb3']:.3f}), "
                f"text2reward's envs with env reward {rate['bare']:.0f} "
                f"({rate['generated'] / rate['bare']:.3f})")
        steps = {name: runs[name][0].num_timesteps for name in names}
        for name in names:
            runs[name][0].get_env().close()
    if len(set(steps.values())) != 1:
        raise RuntimeError(f"the trainings ran different numbers of steps: {steps}")
    total = {name: sum(t) for name, t in times.items()}
    sps = {name: steps[name] / total[name] for name in names}
    log(f"{steps['generated']} steps each: generated reward {sps['generated']:.0f} steps/s, env "
        f"reward {sps['sb3']:.0f} steps/s (SB3's make_vec_env: Monitor, SB3's DummyVecEnv), "
        f"env reward on text2reward's envs {sps['bare']:.0f} steps/s")
    median = {name: statistics.median(r) for name, r in ratios.items()}
    log(f"generated reward vs env reward on the same envs (the reward path's own cost): median "
        f"of {rounds} rounds {median['bare']:.3f}, all steps "
        f"{sps['generated'] / sps['bare']:.3f}")
    log(f"generated reward vs env reward in SB3's standard setup: median of {rounds} rounds "
        f"{median['sb3']:.3f} (range {min(ratios['sb3']):.3f}-{max(ratios['sb3']):.3f}), all "
        f"steps {sps['generated'] / sps['sb3']:.3f}")
    return median["sb3"]


def _overhead_runs(spec: EnvSpec, preset: dict[str, Any], source: str, task: str | None,
                   out: Path) -> dict[str, tuple[Any, Any]]:
    """The three trainings of ``overhead``, set up: (model, callback) by name."""
    from stable_baselines3.common.env_util import make_vec_env as sb3_make_vec_env
    from stable_baselines3.common.vec_env import SubprocVecEnv

    from text2reward.training.trainer import build_model, make_vec_env, prepare

    run = prepare(spec, RewardProgram.load(source), load_scorer(spec, task, None), preset,
                  out / "generated", seed=0, device="cpu")
    runs = {"generated": (run.model, run.callback)}
    n_envs = int(preset.get("n_envs", 8))
    subproc = isinstance(run.venv.venv, SubprocVecEnv)  # the same kind of vector env
    venvs = {"sb3": sb3_make_vec_env(spec.env_id, n_envs, seed=0,
                                     env_kwargs=preset["env_kwargs"],
                                     vec_env_cls=SubprocVecEnv if subproc else None),
             "bare": make_vec_env(spec, preset["env_kwargs"], n_envs, 0)}
    for name, venv in venvs.items():
        runs[name] = (build_model(preset, venv, 0, "cpu", out / name), None)
    for name, (model, _) in runs.items():
        if model.tensorboard_log:  # one writer for all the turns, not a new one per learn()
            from stable_baselines3.common.logger import configure

            model.set_logger(configure(str(out / name / "tb"), ["tensorboard"]))
    return runs


def _chunk(preset: dict[str, Any], timesteps: int, rounds: int) -> int:
    """Steps per turn: whole rollouts (on-policy algorithms), ``timesteps`` over ``rounds``."""
    hyper = preset.get("hyperparams", {})
    rollout = int(hyper.get("n_steps", 2048)) * int(preset.get("n_envs", 8)) \
        if preset.get("algo", "PPO").upper() in ("PPO", "A2C") else 1
    return max(rollout, round(timesteps / rounds / rollout) * rollout)


def sandbox(env_id: str, timesteps: int, repeats: int, log: Log) -> float:
    """Training steps/s inside a locked-down worker vs in this process, same program."""
    from text2reward.sandbox.job import Job
    from text2reward.sandbox.local import run_job

    spec = load_spec(env_id)
    source, task = _program_for(spec)
    preset = _preset(spec, task, timesteps)
    inside, outside = [], []
    for i in range(repeats):
        outside.append(_train_wrapped(spec, preset, source, task, seed=i))
        with tempfile.TemporaryDirectory() as out:
            (Path(out) / "program.py").write_text(source)
            result = run_job(Job("train", env_id, str(Path(out) / "program.py"), out, task=task,
                                 timesteps=timesteps, seed=i, device="cpu"))
        inside.append(result["steps_per_s"])
        log(f"repeat {i}: in-process {outside[-1]:.0f} steps/s, "
            f"sandboxed worker {inside[-1]:.0f} steps/s")
    return statistics.median(inside) / statistics.median(outside)


def parallel(env_id: str, timesteps: int, jobs: int, workers: int, log: Log) -> float:
    """Throughput (steps/s over all jobs) of ``workers`` concurrent workers vs one."""
    from concurrent.futures import ThreadPoolExecutor

    from text2reward.sandbox.job import Job
    from text2reward.sandbox.local import run_job

    spec = load_spec(env_id)
    source, task = _program_for(spec)

    def batch(width: int) -> float:
        with tempfile.TemporaryDirectory() as root:
            job_list = []
            for i in range(jobs):
                folder = Path(root) / f"j{i}"
                folder.mkdir()
                (folder / "program.py").write_text(source)
                job_list.append(Job("train", env_id, str(folder / "program.py"), str(folder),
                                    task=task, timesteps=timesteps, seed=i, device="cpu"))
            start = time.perf_counter()
            with ThreadPoolExecutor(max_workers=width) as pool:
                results = list(pool.map(run_job, job_list))
            wall = time.perf_counter() - start
        steps = sum(r.get("steps", 0) for r in results)
        log(f"{width} worker(s): {jobs} trainings, {steps} steps in {wall:.1f} s "
            f"= {steps / wall:.0f} steps/s")
        return steps / wall

    ceiling = cpu_scaling(workers)
    log(f"this machine: {workers} processes of a CPU-bound loop run {ceiling:.2f}x one "
        "(for comparison)")
    one = batch(1)
    many = batch(workers)
    return many / one


def _spin(seconds: float) -> float:
    """Iterations per second of a pure-Python loop run for ``seconds``."""
    count, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        for _ in range(10_000):
            count += 1
    return count / elapsed


def cpu_scaling(processes: int, seconds: float = 3.0) -> float:
    """Total loop throughput of ``processes`` concurrent processes vs one process."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    with context.Pool(1) as pool:
        one = pool.apply(_spin, (seconds,))
    with context.Pool(processes) as pool:
        many = sum(pool.map(_spin, [seconds] * processes))
    return many / one


def _search_once(env_id: str, task: str, samples: int, early_stop: bool, seed: int,
                 workers: int, root: Path, timesteps: int | None,
                 allocation: str = "bandit", shared: bool = False,
                 backend: str | None = None,
                 interrupted: threading.Event | None = None) -> dict[str, Any]:
    """One search's outcome, from its run folder under ``root``: read back where an earlier
    call finished it, continued where one left it unfinished (its wall time is then None:
    the earlier process's share is unknown), else run."""
    from text2reward.config import RunConfig
    from text2reward.runfolder import candidate_path
    from text2reward.search.start import open_run, prepare, search
    from text2reward.store import atomic_write

    folder = root / ("early" if early_stop else "full")
    outcome = folder / "bench.json"
    if outcome.is_file():
        done = json.loads(outcome.read_text())
        return {**done, "program": candidate_path(folder, 0, done["best"]) / "program.py"}
    config = RunConfig(env=env_id, task=task, model="offline", samples=samples, rounds=1,
                       early_stop=early_stop, stop_on_success=early_stop, prescreen=False,
                       seed=seed, workers=workers, timesteps=timesteps, reeval_seeds=1,
                       allocation=allocation, shared_experience=shared, backend=backend,
                       out=str(folder))
    setup, designer = prepare(config)
    store, restored = open_run(folder, config)
    resumed = restored is not None
    start = time.perf_counter()
    try:
        summary = search(config, setup, designer, store, restored, interrupted=interrupted)
    finally:
        store.close()
    best = summary["best"]
    if summary["status"] != "finished" or best is None:
        raise RuntimeError(f"the search in {folder} ended {summary['status']}: "
                           f"{(summary.get('failure') or {}).get('reason') or 'no winner'}")
    out = {"steps": summary["env_steps"],
           "wall": None if resumed else time.perf_counter() - start,
           "best": best["index"], "score": best["score"], "success": best["success_rate"],
           "meets": bool(best.get("success")), "threshold": setup.threshold}
    atomic_write(outcome, json.dumps(out, indent=1))
    return {**out, "program": candidate_path(folder, 0, best["index"]) / "program.py"}


def _alone(env_id: str, task: str, program: Path, seed: int, timesteps: int | None,
           root: Path, backend: str | None = None) -> dict[str, Any]:
    """The search's winner trained alone with the search's preset, seed and stop rule (its
    training ends once its training episodes succeed reliably): the env steps and wall time it
    takes to meet the threshold, None where it does not."""
    from text2reward.sandbox.job import Job
    from text2reward.sandbox.local import run_job
    from text2reward.store import atomic_write
    from text2reward.training.presets import time_limit

    folder = root / "alone"
    outcome = folder / "bench.json"
    if outcome.is_file():
        return json.loads(outcome.read_text())
    shutil.rmtree(folder, ignore_errors=True)  # a training an earlier call left unfinished
    folder.mkdir()
    spec = load_spec(env_id)
    job = Job("train", env_id, str(program), str(folder), task=task, timesteps=timesteps,
              seed=seed, device="cpu", stop_when_solved=True, backend=backend,
              timeout_s=time_limit(spec, spec.tasks.get(task), timesteps))
    start = time.perf_counter()
    result = run_job(job)
    wall = time.perf_counter() - start
    if result.get("status") != "trained":
        raise RuntimeError(f"the winner's training alone failed: {result.get('reason')}")
    final, threshold = result["eval"], result.get("threshold")
    meets = threshold is not None and final["score"] >= threshold
    out = {"steps": result["steps"] if meets else None, "wall": wall if meets else None,
           "score": final["score"], "ran": result["steps"]}
    atomic_write(outcome, json.dumps(out, indent=1))
    return out


def search(env_id: str, task: str, samples: int, seed: int, workers: int, log: Log,
           timesteps: int | None = None, allocation: str = "bandit",
           full_protocol: bool = True, shared: bool = True,
           backend: str | None = None, out: Path | None = None,
           interrupted: threading.Event | None = None) -> dict[str, Any]:
    """The cost of a search in training-equivalents: the env steps (and wall time) of the
    search (the run defaults: the budget bandit or successive halving, stop on success, and
    ``shared`` experience for off-policy presets) until it names a winner that meets the
    threshold, divided by those of the winner's training alone to the threshold. Beside it,
    unless ``full_protocol`` is off, the full-training protocol (all K candidates trained
    separately to their full budget), its winner, and the search's winner as the full
    protocol trained it (its score at the full budget, beside the full protocol's best).

    With ``out``, the searches' run folders are kept there, and a later call with the same
    ``out`` reads back what finished and continues what did not (a full protocol of hours may
    span several calls)."""
    with _folder(out) as root:
        full = None
        if full_protocol:
            full = _search_once(env_id, task, samples, False, seed, workers, Path(root),
                                timesteps, backend=backend, interrupted=interrupted)
            log(f"full budget: {full['steps']} env steps, {_secs(full['wall'])}, best candidate "
                f"{full['best']} with score {full['score']:.4g}, "
                f"success {_rate(full['success'])}")
        early = _search_once(env_id, task, samples, True, seed, workers, Path(root), timesteps,
                             allocation, shared, backend, interrupted)
        log(f"training less: {early['steps']} env steps, {_secs(early['wall'])}, best candidate "
            f"{early['best']} with score {early['score']:.4g}, success {_rate(early['success'])}")
        alone = _alone(env_id, task, early["program"], seed, timesteps, Path(root), backend)
        if alone["steps"] is None:
            log(f"the winner alone: {alone['ran']} env steps, score {alone['score']:.4g}, "
                "below the threshold")
        else:
            log(f"the winner alone: {alone['steps']} env steps, {_secs(alone['wall'])} to meet "
                f"the threshold (score {alone['score']:.4g})")
        # the search's winner stopped training once it met the target; the full protocol
        # trained the same program to the whole budget: that is the score to set beside its
        # best (the same code, found by its hash: a designer may number candidates apart)
        mine = None if full is None else _full_budget(Path(root) / "full", Path(root) / "early")
    named = early["meets"] and alone["steps"] is not None
    out = {"full": full, "early": early, "alone": alone,
           "training_equivalents": early["steps"] / alone["steps"] if named else None,
           "wall_equivalents": early["wall"] / alone["wall"]
           if named and early["wall"] is not None else None,
           "why_none": None if named else (
               "the search's winner does not meet the threshold" if not early["meets"]
               else "the winner alone does not meet the threshold")}
    if full is not None:
        scale = abs(full["score"]) if full["score"] else 1.0
        out.update({"steps_ratio": early["steps"] / full["steps"], "winner_full": mine,
                    "same_winner": mine is not None and mine["index"] == full["best"],
                    "success_gap": None if mine is None or full["success"] is None
                    or mine["success"] is None else full["success"] - mine["success"],
                    "score_gap": None if mine is None or mine["score"] is None
                    else abs(full["score"] - mine["score"]) / scale})
    return out


def _full_budget(full: Path, early: Path) -> dict[str, Any] | None:
    """The full protocol's training of the early search's winner: its index, score and
    success at the full budget; None where the full protocol did not train that program."""
    winner = json.loads((early / "summary.json").read_text())["best"]["code_hash"]
    for candidate in json.loads((full / "summary.json").read_text())["rounds"][0]["candidates"]:
        if candidate.get("code_hash") == winner and candidate.get("status") == "trained":
            return {"index": candidate["index"], "score": candidate.get("score"),
                    "success": candidate.get("success_rate")}
    return None


@contextmanager
def _folder(out: Path | None):
    if out is None:
        with tempfile.TemporaryDirectory() as root:
            yield Path(root)
    else:
        Path(out).mkdir(parents=True, exist_ok=True)
        yield Path(out)


def _secs(wall: float | None) -> str:
    return "wall time unknown (continued)" if wall is None else f"{wall:.1f} s"


def _rate(value: float | None) -> str:
    return "n/a (no threshold)" if value is None else f"{value:.0%}"


def population(k: int, steps: int, device: str, log: Log, hidden: int = 256,
               batch: int = 256, width: int = 14) -> dict[str, float]:
    """Updates of a population's K critics (SAC's: ``width`` inputs, two hidden layers of
    ``hidden``, batches of ``batch``, Adam), in JAX as the SBX backend runs them: K separate
    jitted steps against one step of all K with their parameters stacked (``jax.vmap``).
    Both are compiled first; the two timings alternate over ``steps`` rounds. Returns the
    seconds per round of each and their ratio."""
    from text2reward.training.backends import SBX_HINT, prepare_jax

    prepare_jax(device)
    try:
        import flax.linen as nn
        import jax
        import jax.numpy as jnp
        import optax
    except ImportError:
        raise UsageError(SBX_HINT) from None

    class Critic(nn.Module):
        @nn.compact
        def __call__(self, x):
            for size in (hidden, hidden):
                x = nn.relu(nn.Dense(size)(x))
            return nn.Dense(1)(x)[:, 0]

    net, tx = Critic(), optax.adam(3e-4)

    def step(params, opt, x, y):
        grads = jax.grad(lambda p: jnp.mean((net.apply(p, x) - y) ** 2))(params)
        updates, opt = tx.update(grads, opt, params)
        return optax.apply_updates(params, updates), opt

    one, all_k = jax.jit(step), jax.jit(jax.vmap(step))
    keys = jax.random.split(jax.random.PRNGKey(0), k + 2)
    xs = jax.random.normal(keys[0], (k, batch, width))
    ys = jax.random.normal(keys[1], (k, batch))
    params = [net.init(key, xs[0]) for key in keys[2:]]
    opts = [tx.init(p) for p in params]
    stacked = jax.tree.map(lambda *a: jnp.stack(a), *params)
    stacked_opt = jax.vmap(tx.init)(stacked)

    def separate():
        for i in range(k):
            params[i], opts[i] = one(params[i], opts[i], xs[i], ys[i])
        jax.block_until_ready(params)

    def together():
        nonlocal stacked, stacked_opt
        stacked, stacked_opt = all_k(stacked, stacked_opt, xs, ys)
        jax.block_until_ready(stacked)

    separate(), together()  # compiled here, not timed
    times = {"separate": 0.0, "batched": 0.0}
    for _ in range(steps):
        for name, fn in (("separate", separate), ("batched", together)):
            start = time.perf_counter()
            fn()
            times[name] += time.perf_counter() - start
    per = {name: t / steps for name, t in times.items()}
    log(f"{k} critics ({hidden} x {hidden}) on {jax.devices()[0].platform}: "
        f"{per['separate'] * 1e3:.2f} ms per round as {k} separate updates, "
        f"{per['batched'] * 1e3:.2f} ms as one batched update")
    return {**per, "ratio": per["separate"] / per["batched"]}
