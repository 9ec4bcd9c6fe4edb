"""Calibration of curated tasks: does the expert reward meet the task's threshold at the task's
preset budget, how fast, and what does the sparse (success-only) reward reach?

Each row is one training of one reward (expert or sparse) with one seed, optionally with the
preset changed (``--set algo=SAC``, ``--set normalize=true``, ``--set hyperparams.gamma=0.999``)
to compare presets. Rows are appended to a JSON-lines file as they finish, so a calibration
that is stopped continues where it was (rows already there are not trained again), and the
table (``docs/results/experts.md``) is built from that file.

Curated expert and sparse rewards are the project's own code, so they train in the calling
process's children without the sandbox, one torch thread each.
"""

from __future__ import annotations

import ast
import hashlib
import json
import multiprocessing
import os
import platform
import shutil
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from statistics import mean
from typing import Any

from text2reward.errors import UsageError

REWARDS = ("expert", "sparse")


def parse_settings(items: Iterable[str]) -> dict[str, Any]:
    """``key=value`` pairs (values as Python literals, else strings) into preset overrides;
    ``hyperparams.x=v`` sets one hyperparameter."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise UsageError(f"--set {item!r}: write KEY=VALUE, e.g. algo=SAC or "
                             "hyperparams.gamma=0.999")
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            value = {"true": True, "false": False}.get(text.lower(), text)
        if key.startswith("hyperparams."):
            out.setdefault("hyperparams", {})[key.split(".", 1)[1]] = value
        else:
            out[key] = value
    return out


def preset_for(env_id: str, task: str, settings: dict[str, Any]) -> dict[str, Any]:
    """The task's preset (rl-zoo3 where its spec says so) with ``settings`` on top."""
    from text2reward.envs.spec import load_spec
    from text2reward.training.presets import build_preset

    spec = load_spec(env_id)
    preset = build_preset(spec, spec.tasks[task])
    settings = dict(settings)
    preset["hyperparams"].update(settings.pop("hyperparams", {}))
    if "algo" in settings and "hyperparams_from" not in settings:
        preset["hyperparams"] = dict(settings.pop("algo_hyperparams", {}))  # another algorithm
        preset["algo"] = settings.pop("algo")
    if "hyperparams_from" in settings:  # borrow another preset source, e.g. rl-zoo3:Hopper-v4
        import dataclasses

        training = {**spec.training, "hyperparams_from": settings.pop("hyperparams_from")}
        if "algo" in settings:
            training["algo"] = settings.pop("algo")
        zoo = build_preset(dataclasses.replace(spec, training=training), spec.tasks[task])
        preset.update({k: v for k, v in zoo.items() if k not in ("timesteps", "eval_episodes")})
    preset.update(settings)
    preset["stop_when_solved"] = False  # calibration measures the whole budget
    return preset


def train_one(env_id: str, task: str, reward: str, seed: int, settings: dict[str, Any],
              out: str) -> dict[str, Any]:
    """One training of the task's ``reward`` ("expert" or "sparse"); its row."""
    import torch

    from text2reward.envs.spec import load_spec
    from text2reward.program import RewardProgram
    from text2reward.training.scoring import load_scorer
    from text2reward.training.trainer import train

    torch.set_num_threads(1)
    spec = load_spec(env_id)
    t = spec.tasks[task]
    preset = preset_for(env_id, task, settings)
    path = reward_path(env_id, task, reward)
    start = time.perf_counter()
    result = train(spec, RewardProgram.load(path.read_text(), str(path)),
                   load_scorer(spec, task, None), preset, Path(out), seed=seed, device="cpu")
    wall = time.perf_counter() - start + result.get("resumed_train_time_s", 0.0)
    reached = next((s["step"] for s in result["snapshots"]
                    if s.get("score") is not None and s["score"] >= t.success_threshold), None)
    return {
        "task": f"{env_id}:{task}", "reward": reward, "reward_sha": reward_sha(path),
        "seed": seed, "settings": settings,
        "algo": preset.get("algo", "PPO"), "normalize": bool(preset.get("normalize")),
        "n_envs": preset.get("n_envs"), "budget": int(preset["timesteps"]),
        "steps": result["steps"], "wall_s": round(wall, 1),
        "steps_per_s": round(result["steps_per_s"], 1),
        "score": result["eval"]["score"], "success_rate": result["eval"]["success_rate"],
        "threshold": t.success_threshold, "metric": t.success_metric,
        "env_return": result["eval"]["env_return"],
        # training episodes (stochastic policy) first at or above the threshold
        "steps_to_threshold": reached,
        "wall_to_threshold_s": None if reached is None
        else round(reached / max(result["steps_per_s"], 1e-9), 1),
        "machine": f"{os.cpu_count()} cores ({platform.machine()})",
        **({"resumed_from": result["resumed_from"]} if "resumed_from" in result else {}),
    }


def reward_path(env_id: str, task: str, reward: str) -> Path:
    """The program of ``reward`` ("expert" or "sparse") for the curated task."""
    from text2reward.envs.spec import load_spec

    expert = load_spec(env_id).tasks[task].expert_path
    return expert if reward == "expert" else expert.with_name(f"sparse_{task}.py")


def reward_sha(path: Path) -> str:
    """A short hash of a reward program's text: a row is done only for the same program."""
    if not path.is_file():
        return "missing"  # its training fails and says so
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


def _key(row: dict[str, Any]) -> tuple:
    return (row["task"], row["reward"], row["seed"], json.dumps(row["settings"], sort_keys=True),
            row.get("reward_sha"))  # rows written before programs were hashed: None


def pending(tasks: list[str], seeds: int, rewards: Iterable[str], settings: dict[str, Any],
            rows: list[dict[str, Any]]) -> tuple[list[tuple[str, str, int]], int]:
    """The (task, reward, seed) trainings no row holds for these settings and the reward
    program as it is now (a changed expert is trained again); and how many are wanted."""
    done = {_key(r) for r in rows}
    wanted = [(key, reward, seed) for key in tasks for reward in rewards for seed in range(seeds)]
    shas = {(key, reward): reward_sha(reward_path(*key.rsplit(":", 1), reward))
            for key, reward, _ in wanted}
    this = json.dumps(settings, sort_keys=True)
    todo = [(key, reward, seed) for key, reward, seed in wanted
            if (key, reward, seed, this, shas[key, reward]) not in done]
    return todo, len(wanted)


def work_folder(scratch: Path, key: str, reward: str, seed: int,
                settings: dict[str, Any]) -> Path:
    """Where a training of a calibration runs (and leaves its checkpoints until its row is
    written): one folder per task, reward, seed and settings."""
    env_id, _, task = key.rpartition(":")
    tag = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:8]
    return scratch / f"{env_id.replace('/', '__')}-{task}-{reward}-s{seed}-{tag}"


def calibrate(tasks: list[str], seeds: int, rewards: Iterable[str], settings: dict[str, Any],
              results: Path, jobs: int, scratch: Path,
              log: Callable[[str], None] = lambda m: None) -> list[dict[str, Any]]:
    """Train every (task, reward, seed) not already in ``results``, ``jobs`` at a time, and
    append each row as it finishes. Returns the rows of this call's settings.

    Each training runs in its own folder of ``scratch``, removed once its row is written: a
    calibration stopped part-way continues its unfinished trainings from their checkpoints
    (training/checkpoint.py) when it runs again with the same ``scratch``."""
    rows = read_rows(results)
    done = {_key(r): r for r in rows}
    todo, wanted = pending(tasks, seeds, rewards, settings, rows)
    log(f"{wanted - len(todo)} of {wanted} trainings already in {results}")
    results.parent.mkdir(parents=True, exist_ok=True)
    from text2reward.sandbox.worker import die_with_parent

    # the trainings die with this process (kill, SIGTERM): none trains on, unseen, into the
    # folder a rerun resumes from
    pool = ProcessPoolExecutor(max_workers=jobs, initializer=die_with_parent)
    try:
        futures = {}
        for key, reward, seed in todo:
            env_id, _, task = key.rpartition(":")
            out = work_folder(scratch, key, reward, seed, settings)
            futures[pool.submit(train_one, env_id, task, reward, seed, settings, str(out))] = out
        for future in as_completed(futures):
            row = future.result()
            with results.open("a") as f:
                f.write(json.dumps(row) + "\n")
            done[_key(row)] = row
            shutil.rmtree(futures[future], ignore_errors=True)
            log(f"{row['task']} {row['reward']} seed {row['seed']}: score {row['score']:.4g} "
                f"(threshold {row['threshold']:g}) in {row['wall_s']:.0f} s")
    except BaseException:  # Ctrl-C, SIGTERM or a failure: no queued training starts, the
        pool.shutdown(wait=False, cancel_futures=True)  # running ones stop at once and keep
        for child in multiprocessing.active_children():  # their checkpoints for the rerun
            child.kill()
        raise
    pool.shutdown(wait=True)
    if scratch.is_dir() and not any(scratch.iterdir()):
        scratch.rmdir()
    this = json.dumps(settings, sort_keys=True)
    return [r for k, r in done.items() if k[3] == this]


def read_rows(results: Path) -> list[dict[str, Any]]:
    if not results.exists():
        return []
    return [json.loads(line) for line in results.read_text().splitlines() if line.strip()]


def table(rows: list[dict[str, Any]]) -> str:
    """Markdown: one line per (task, preset, version of the expert), expert and sparse scores
    over seeds."""
    groups: dict[tuple, dict[str, list[dict[str, Any]]]] = {}
    for r in rows:
        preset = (r["algo"] + (" + VecNormalize" if r["normalize"] else ""), r["budget"])
        groups.setdefault((r["task"], preset, json.dumps(r["settings"], sort_keys=True)),
                          {}).setdefault(r["reward"], []).append(r)
    lines = ["| task | preset | budget | expert score (seeds) | expert meets | "
             "wall to threshold (s) | expert env return (mean) | sparse score (seeds) | "
             "threshold |", "|---|---|---|---|---|---|---|---|---|"]
    for (task, (algo, budget), settings), by in sorted(groups.items()):
        sp = by.get("sparse", [])
        versions: dict[str, list[dict[str, Any]]] = {}  # one line per version of the expert
        for r in by.get("expert", []):
            versions.setdefault(r.get("reward_sha") or "", []).append(r)
        for sha, ex in sorted(versions.items()) or [("", [])]:
            lines.append(_line(task, algo, budget, settings, sha, ex, sp))
    return "\n".join(lines) + "\n"


def _line(task: str, algo: str, budget: int, settings: str, sha: str,
          ex: list[dict[str, Any]], sp: list[dict[str, Any]]) -> str:
    """One table line: an expert version (its program's hash) under one preset."""
    meets = sum(r["score"] >= r["threshold"] for r in ex)
    walls = [r["wall_to_threshold_s"] for r in ex if r["wall_to_threshold_s"] is not None]
    threshold = (ex or sp)[0]["threshold"]
    extra = ("" if settings == "{}" else f" `{settings}`") + (
        f", expert {sha}" if sha else "")
    return (f"| {task} | {algo}{extra} | {budget:,} | {_scores(ex)} | {meets}/{len(ex)} | "
            f"{_num(mean(walls)) if walls else '-'} | "
            f"{_num(mean(r['env_return'] for r in ex)) if ex else '-'} | {_scores(sp)} | "
            f"{threshold:g} |")


def _scores(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "-"
    return ", ".join(_num(r["score"]) for r in sorted(rows, key=lambda r: r["seed"]))


def _num(x: float) -> str:
    return f"{x:.3g}" if abs(x) < 1000 else f"{x:,.0f}"
