"""Batch runs over a suite: sparse baseline, expert reward and designed reward for every task.

Every finished training is journaled in the batch folder as it completes, so a batch that is
stopped resumes where it was; the designed reward's search is an ordinary run folder (resumed
with the loop's own journal). Results: Eureka's human-normalised score
(designed - sparse) / |expert - sparse| per task, as Markdown, CSV and HTML.
"""

from __future__ import annotations

import csv
import html
import io
import json
import statistics
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from text2reward.envs.spec import Task, load_spec
from text2reward.errors import UsageError
from text2reward.paths import data_dir
from text2reward.sandbox.job import Job
from text2reward.sandbox.local import kill_all, run_job
from text2reward.store import atomic_write
from text2reward.training.presets import time_limit

METHODS = ("sparse", "expert", "designed")
Log = Callable[[str], None]
Queued = list[tuple[Task, str, int, Future]]  # (task, method, seed, its training)


def suites() -> dict[str, list[str]]:
    """Suite name -> task keys ("EnvId:task"), from envs/suites.yaml."""
    return yaml.safe_load((data_dir("envs") / "suites.yaml").read_text())


def load_suite(name: str) -> list[Task]:
    known = suites()
    if name not in known:
        raise UsageError(f"unknown suite {name!r}; suites: {', '.join(sorted(known))}")
    tasks = []
    for key in known[name]:
        env_id, task = key.split(":")
        tasks.append(load_spec(env_id).tasks[task])
    return tasks


@dataclass
class BatchConfig:
    suite: str
    out: Path
    model: str = "offline"
    api_base: str | None = None
    seeds: int = 1
    samples: int = 4
    rounds: int = 3
    timesteps: int | None = None
    workers: int = 2

    def validate(self) -> BatchConfig:
        for name in ("seeds", "samples", "rounds", "workers"):
            if getattr(self, name) < 1:
                raise UsageError(f"--{name} must be at least 1, got {getattr(self, name)}")
        if self.timesteps is not None and self.timesteps <= 0:
            raise UsageError(f"--timesteps must be positive, got {self.timesteps}")
        return self


class Batch:
    """One batch folder: trainings journaled in results.jsonl, tables rebuilt from it."""

    def __init__(self, config: BatchConfig, log: Log = lambda m: None):
        self.config = config
        self.root = config.out
        self.log = log
        self.tasks = load_suite(config.suite)
        for task in self.tasks:  # every task's designer must be usable before any work starts
            self._prepare(task)
        self.done = self._load_done()
        self._stopping = False
        self.interrupted = threading.Event()  # set by the command's signal handler

    def _prepare(self, task: Task):
        from text2reward.config import RunConfig
        from text2reward.search.start import prepare

        folder = self._search_folder(task)
        config = RunConfig(env=task.env_id, task=task.description, model=self.config.model,
                           api_base=self.config.api_base, samples=self.config.samples,
                           rounds=self.config.rounds, timesteps=self.config.timesteps,
                           workers=self.config.workers, out=str(folder),
                           reeval_seeds=1)  # the batch trains the best program over its seeds
        return (config, *prepare(config))

    def _load_done(self) -> dict[tuple[str, str, int], dict[str, Any]]:
        path = self.root / "results.jsonl"
        done = {}
        if path.exists():
            for line in path.read_text().splitlines():
                try:
                    row = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a line torn by a crash: that training is redone
                key = (row["task"], row["method"], row["seed"])
                if row.get("status") == "failed":  # a crash or a kill: resuming tries again
                    done.pop(key, None)
                else:
                    done[key] = row
        return done

    def _record(self, row: dict[str, Any]) -> None:
        with open(self.root / "results.jsonl", "a") as fh:
            fh.write(json.dumps(row) + "\n")
            fh.flush()
        self.done[(row["task"], row["method"], row["seed"])] = row
        self._write_tables(self.table())  # a batch of hours shows (and keeps) what it has

    # -- the work -------------------------------------------------------------------------
    def run(self) -> list[dict[str, Any]]:
        self.root.mkdir(parents=True, exist_ok=True)
        atomic_write(self.root / "batch.json",
                     json.dumps(self.config.__dict__, default=str, indent=1))
        total = len(self.tasks) * len(METHODS) * self.config.seeds
        if self.done:
            self.log(f"{len(self.done)} of {total} trainings already in "
                     f"{self.root / 'results.jsonl'}: they are not run again")
        pool = ThreadPoolExecutor(max_workers=self.config.workers)
        try:  # task by task, so that each finished task's row is whole
            designed: Queued = []  # the last task's designed training, beside the next task's
            for task in self.tasks:
                self._collect(designed + self._submit(pool, [(task, "sparse"), (task, "expert")]))
                self._search(task)  # its candidates take the workers: nothing else runs
                designed = self._submit(pool, [(task, "designed")] if self._best(task) else [])
            self._collect(designed)
        except BaseException:  # Ctrl-C, SIGTERM or a failure: stop now, start nothing more
            self._stopping = True
            pool.shutdown(wait=False, cancel_futures=True)
            kill_all()  # the running trainings keep their checkpoints for the rerun
            pool.shutdown(wait=True)
            raise
        pool.shutdown(wait=True)
        rows = self.table()
        self._write_tables(rows)
        return rows

    def _program(self, task: Task, method: str) -> Path | None:
        if method == "designed":
            return self._best(task)
        path = task.spec_dir / f"{method}_{task.name}.py"
        return path if path.exists() else None

    def _best(self, task: Task) -> Path | None:
        path = self._search_folder(task) / "best_reward.py"
        return path if path.exists() else None

    def _submit(self, pool: ThreadPoolExecutor, pairs: list[tuple[Task, str]]) -> Queued:
        """Queue the trainings of these (task, method) pairs not done yet, one per seed."""
        futures: Queued = []
        for task, method in pairs:
            program = self._program(task, method)
            spec = load_spec(task.env_id)
            steps = self.config.timesteps or spec.training_preset(task).get("timesteps")
            for seed in range(self.config.seeds):
                if (task.key, method, seed) in self.done or program is None:
                    continue
                folder = self.root / task.key.replace(":", "-") / f"{method}-s{seed}"
                job = Job("train", task.env_id, str(program), str(folder), task=task.name,
                          timesteps=self.config.timesteps, seed=seed,
                          timeout_s=time_limit(spec, task, steps))
                label = f"{task.key} {method} seed {seed}"
                futures.append((task, method, seed, pool.submit(self._train, label, steps, job)))
        return futures

    def _collect(self, futures: Queued) -> None:
        """Wait for queued trainings, in order, recording each as it is taken."""
        for task, method, seed, future in futures:
            result = future.result()
            final = result.get("eval", {})
            row = {"task": task.key, "method": method, "seed": seed,
                   "status": result.get("status"), "score": final.get("score"),
                   "success_rate": final.get("success_rate"), "steps": result.get("steps"),
                   "wall_time_s": training_wall(result), "reason": result.get("reason")}
            self._record(row)
            self.log(f"{task.key} {method} seed {seed}: {outcome(row, task.success_threshold)}")

    def _train(self, label: str, steps: int | None, job: Job) -> dict[str, Any]:
        if self._stopping:  # taken from the queue as the batch stopped: never recorded
            return {"status": "failed", "reason": "the batch stopped before this training"}
        self.log(f"{label}: training" + (f" ({steps:,} steps)" if steps else "")
                 + f" in {job.out_dir}")
        return run_job(job)

    def _search(self, task: Task) -> None:
        """The designer's search for this task: an ordinary run folder, resumed if unfinished."""
        from text2reward.search.start import open_run, search

        folder = self._search_folder(task)
        summary_path = folder / "summary.json"
        if summary_path.exists() and json.loads(summary_path.read_text())["status"] != "running":
            if not (folder / "report.html").exists():
                self._report(task)  # a search that ended before its report was written
            return
        config, setup, designer = self._prepare(task)
        store, restored = open_run(folder, config)
        self.log(f"{task.key}: designing ({config.samples} x {config.rounds}, {config.model})")
        try:
            search(config, setup, designer, store, restored, interrupted=self.interrupted)
        except Exception as exc:  # a task whose search fails is reported, the batch goes on
            self.log(f"{task.key}: search failed: {exc}")
        finally:
            store.close()
        self._report(task)
        self._write_tables(self.table())

    def _search_folder(self, task: Task) -> Path:
        return self.root / task.key.replace(":", "-") / "search"

    def _report(self, task: Task) -> None:
        """The search's report.html (its evidence: rounds, curves, programs, a rollout), linked
        from results.html; a report that cannot be built is a warning, the batch goes on."""
        from text2reward.report import build_report

        try:
            self.log(f"{task.key}: report {build_report(self._search_folder(task))}")
        except Exception as exc:  # the search's results are on disk; never lose the batch to it
            self.log(f"{task.key}: warning: report.html was not built: {type(exc).__name__}: "
                     f"{exc}; retry with `text2reward report {self._search_folder(task)}`")

    # -- results ---------------------------------------------------------------------------
    def table(self) -> list[dict[str, Any]]:
        rows = []
        for task in self.tasks:
            row: dict[str, Any] = {"task": task.key, "threshold": task.success_threshold}
            for method in METHODS:
                runs = [r for (k, m, _), r in self.done.items()
                        if k == task.key and m == method and r.get("score") is not None]
                row[method] = statistics.mean(r["score"] for r in runs) if runs else None
                row[f"{method}_std"] = (statistics.pstdev(r["score"] for r in runs)
                                        if len(runs) > 1 else None)  # over seeds
                rates = [r["success_rate"] for r in runs if r.get("success_rate") is not None]
                row[f"{method}_success"] = statistics.mean(rates) if rates else None
            row["normalised"] = normalised(row["designed"], row["sparse"], row["expert"])
            row["note"] = note(row)
            row.update(self._search_usage(task))
            report = self._search_folder(task) / "report.html"
            if report.exists():  # results.html links each task to its search's evidence
                row["report"] = report.relative_to(self.root).as_posix()
            rows.append(row)
        return rows

    def _search_usage(self, task: Task) -> dict[str, Any]:
        path = self._search_folder(task) / "summary.json"
        summary = json.loads(path.read_text()) if path.exists() else {}
        usage = summary.get("usage", {})
        walls = [r.get("wall_time_s") or 0 for (k, _, _), r in self.done.items() if k == task.key]
        return {"tokens": (usage.get("prompt_tokens") or 0) + (usage.get("completion_tokens") or 0),
                "cost_usd": usage.get("cost_usd") or 0.0,
                "wall_time_s": sum(walls) + (summary.get("wall_time_s") or 0.0)}

    def _write_tables(self, rows: list[dict[str, Any]]) -> None:
        atomic_write(self.root / "results.md", to_markdown(rows))
        atomic_write(self.root / "results.csv", to_csv(rows))
        atomic_write(self.root / "results.html", to_html(rows, self.config.suite))


def normalised(designed: float | None, sparse: float | None, expert: float | None) -> float | None:
    """Eureka's human-normalised score (designed - sparse) / |expert - sparse|."""
    if None in (designed, sparse, expert) or expert == sparse:
        return None
    return (designed - sparse) / abs(expert - sparse)


def training_wall(result: dict[str, Any]) -> float | None:
    """A training's wall time over every process that worked on it: a training continued from
    its checkpoint adds the training time of the processes before (a worker's own wall time
    is only its share)."""
    wall = result.get("wall_time_s")
    if wall is None:
        return None
    return wall + float(result.get("resumed_train_time_s") or 0.0)


def outcome(row: dict[str, Any], threshold: float | None) -> str:
    """A finished training in words: its score against the threshold, its steps and time, or
    why it failed."""
    if row.get("score") is None:
        return f"{row.get('status')}: {row.get('reason') or 'no evaluation'}"
    verdict = "" if threshold is None else (
        f" ({'meets' if row['score'] >= threshold else 'below'} the threshold {_fmt(threshold)})")
    steps = f", {row['steps']:,} steps" if row.get("steps") else ""
    wall = f" in {row['wall_time_s']:.0f} s" if row.get("wall_time_s") is not None else ""
    return (f"score {_fmt(row['score'])}{verdict}, success {_fmt(row.get('success_rate'))}"
            f"{steps}{wall}")


def note(row: dict[str, Any]) -> str:
    """Why a task's normalised score is missing, in words; empty when it is defined."""
    missing = [m for m in METHODS if row.get(m) is None]
    if missing:
        return f"no normalised score: {', '.join(missing)} not trained"
    if row["expert"] == row["sparse"]:
        return (f"no normalised score: the sparse reward already scores as the expert "
                f"({_fmt(row['sparse'])})")
    scale = max(abs(row["expert"]), abs(row["sparse"]), abs(row.get("threshold") or 0.0))
    if abs(row["expert"] - row["sparse"]) < 0.05 * scale:
        return "expert and sparse within 5%: the normalised score amplifies noise"
    return ""


def overview(rows: list[dict[str, Any]]) -> list[str]:
    """Suite-level lines: tasks meeting their target per method (and how many it has not been
    trained on yet: tables are rewritten as a batch goes), the mean normalised score."""
    lines = []
    for method in METHODS:
        measured = [r for r in rows if r.get(method) is not None]
        met = sum(1 for r in measured
                  if r.get("threshold") is not None and r[method] >= r["threshold"])
        pending = len(rows) - len(measured)
        lines.append(f"{method}: mean evaluation score meets the task's threshold on {met} of "
                     f"{len(rows)} tasks" + (f" ({pending} not trained yet)" if pending else ""))
    scores = [r["normalised"] for r in rows
              if r.get("normalised") is not None and not r.get("note")]
    if scores:
        lines.append(f"normalised score over the {len(scores)} tasks where it is defined and "
                     f"expert and sparse differ by 5% or more: mean {statistics.mean(scores):.3g}, "
                     f"median {statistics.median(scores):.3g}")
    return lines


COLUMNS = ["task", "threshold", "sparse", "expert", "designed", "sparse_std", "expert_std",
           "designed_std", "sparse_success", "expert_success", "designed_success", "normalised",
           "tokens", "cost_usd", "wall_time_s", "note"]


def _fmt(value: Any) -> str:
    if value is None or value == "":
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def to_markdown(rows: list[dict[str, Any]]) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(_fmt(r.get(c)) for c in COLUMNS) + " |" for r in rows]
    return "\n".join(lines + [""] + [f"- {line}" for line in overview(rows)]) + "\n"


def to_csv(rows: list[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def to_html(rows: list[dict[str, Any]], suite: str) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in COLUMNS)
    def cell(row: dict[str, Any], column: str) -> str:
        text = html.escape(_fmt(row.get(column)))
        if column == "task" and row.get("report"):
            return f"<td><a href='{html.escape(row['report'])}'>{text}</a></td>"
        return f"<td>{text}</td>"

    body = "".join("<tr>" + "".join(cell(r, c) for c in COLUMNS) + "</tr>" for r in rows)
    return (f"<!doctype html><meta charset='utf-8'><title>text2reward batch: {html.escape(suite)}"
            "</title><style>body{font-family:sans-serif}table{border-collapse:collapse}"
            "td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}</style>"
            f"<h1>Suite {html.escape(suite)}</h1><p>normalised = (designed - sparse) / "
            f"|expert - sparse| of the mean task score; a task links to its search's report; "
            f"generated {time.strftime('%Y-%m-%d %H:%M')}</p>"
            f"<table><tr>{head}</tr>{body}</table><ul>"
            + "".join(f"<li>{html.escape(line)}</li>" for line in overview(rows)) + "</ul>\n")
