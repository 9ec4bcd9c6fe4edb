"""`text2reward batch`: sparse, expert and designed rewards over a suite, a results table, and
a second invocation on the same folder that retrains nothing but failed trainings."""

import csv
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_cli import t2r

from text2reward.batch import (
    Batch,
    BatchConfig,
    normalised,
    note,
    outcome,
    to_markdown,
    training_wall,
)


def test_cartpole_suite_writes_tables_and_resumes_without_retraining(tmp_path):
    out = tmp_path / "batch"
    args = ["batch", "--suite", "cartpole", "--samples", "1", "--rounds", "1", "--timesteps",
            "2000", "--out", str(out)]
    proc = t2r(*args)
    assert proc.returncode == 0, proc.stderr
    assert f"results: {out / 'results.md'}" in proc.stdout
    started = f"CartPole-v1:balance sparse seed 0: training (2,000 steps) in {out}"
    assert started in proc.stderr  # what is running now, and where, for a batch of hours
    assert "CartPole-v1:balance expert seed 0: score " in proc.stderr
    assert "the threshold 475), success " in proc.stderr
    log = proc.stderr.index  # task by task: a task's row is whole before the next one's starts
    assert (log("CartPole-v1:balance expert seed 0: score") < log("CartPole-v1:balance: designing")
            < log("CartPole-v1:right_half sparse seed 0: training"))
    assert (log("CartPole-v1:balance designed seed 0: training")
            < log("CartPole-v1:right_half: designing"))
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert sorted((r["task"], r["method"]) for r in rows) == sorted(
        (t, m) for t in ("CartPole-v1:balance", "CartPole-v1:right_half")
        for m in ("sparse", "expert", "designed"))
    assert all(r["status"] == "trained" and r["steps"] >= 2000 for r in rows)
    for task in ("CartPole-v1-balance", "CartPole-v1-right_half"):
        summary = json.loads((out / task / "search" / "summary.json").read_text())
        assert (summary["status"] == "finished"
                and (out / task / "search" / "best_reward.py").exists())

    table = list(csv.DictReader((out / "results.csv").open()))
    assert [r["task"] for r in table] == ["CartPole-v1:balance", "CartPole-v1:right_half"]
    for r in table:
        assert r["sparse"] and r["expert"] and r["designed"]
        assert r["normalised"] or r["note"].startswith("no normalised score")
    markdown = (out / "results.md").read_text()
    assert "| task | threshold |" in markdown and "- designed: mean evaluation score" in markdown
    assert "| designed_std | sparse_success |" in markdown  # spread over seeds, with 2 or more
    page = (out / "results.html").read_text()
    assert "<table>" in page
    for task in ("CartPole-v1-balance", "CartPole-v1-right_half"):  # each search's evidence
        assert (out / task / "search" / "report.html").exists()
        assert f"<a href='{task}/search/report.html'>" in page

    before = (out / "results.jsonl").read_text()
    (out / "CartPole-v1-balance" / "search" / "report.html").unlink()
    again = t2r(*args)
    assert again.returncode == 0, again.stderr
    assert (out / "results.jsonl").read_text() == before  # nothing retrained
    # a finished search without its report (one from before reports were built) gets it
    assert (out / "CartPole-v1-balance" / "search" / "report.html").exists()
    assert f"6 of 6 trainings already in {out / 'results.jsonl'}" in again.stderr
    assert ": training" not in again.stderr

    # archived (journals, programs and results; no episodes or logs) and restored elsewhere,
    # the batch continues there: nothing is retrained, the reports are rebuilt
    script = Path(__file__).parents[1] / "scripts" / "archive_results.py"
    archive, moved = tmp_path / "archive", tmp_path / "moved"
    subprocess.run([sys.executable, script, out, archive], check=True)
    assert (archive / "results.jsonl").read_text() == before
    assert not list(archive.rglob("episodes.npz")) and not list(archive.rglob("*.html"))
    assert len(list(archive.glob("*/search/rounds/*/*/policy.zip"))) == 2  # each search's best
    subprocess.run([sys.executable, script, "--restore", archive, moved], check=True)
    elsewhere = t2r(*args[:-1], str(moved))
    assert elsewhere.returncode == 0, elsewhere.stderr
    assert f"6 of 6 trainings already in {moved / 'results.jsonl'}" in elsewhere.stderr
    assert ": training" not in elsewhere.stderr
    assert (moved / "CartPole-v1-right_half" / "search" / "report.html").exists()

    # a training that failed (a crash, or killed past its time limit) is tried again
    failed = {**rows[0], "status": "failed", "score": None, "reason": "killed"}
    with open(out / "results.jsonl", "a") as fh:
        fh.write(json.dumps(failed) + "\n")
    third = t2r(*args)
    assert third.returncode == 0, third.stderr
    added = (out / "results.jsonl").read_text().splitlines()[len(rows) + 1:]
    assert [(json.loads(r)["task"], json.loads(r)["method"], json.loads(r)["status"])
            for r in added] == [(rows[0]["task"], rows[0]["method"], "trained")]


def test_normalised_score_and_its_notes():
    assert normalised(0.5, 0.0, 1.0) == 0.5
    assert normalised(-80.0, -500.0, -100.0) == 1.05
    assert normalised(1.0, 1.0, 1.0) is None
    row = {"sparse": 500.0, "expert": 500.0, "designed": 500.0, "threshold": 475.0}
    assert note(row) == "no normalised score: the sparse reward already scores as the expert (500)"
    assert note({**row, "designed": None}) == "no normalised score: designed not trained"
    assert note({**row, "sparse": 0.96, "expert": 0.955, "threshold": 0.9}).startswith("expert and")
    assert note({**row, "sparse": 0.0, "expert": 1.0, "threshold": 0.9}) == ""
    text = to_markdown([{**row, "task": "CartPole-v1:balance", "normalised": None,
                         "sparse_success": 1.0, "expert_success": 1.0, "designed_success": 1.0}])
    assert "sparse: mean evaluation score meets the task's threshold on 1 of 1 tasks" in text


def test_a_finished_training_in_words():
    row = {"status": "trained", "score": 2.78195806, "success_rate": 1.0, "steps": 1000448,
           "wall_time_s": 1422.4}
    assert outcome(row, 1.5) == ("score 2.782 (meets the threshold 1.5), success 1, "
                                 "1,000,448 steps in 1422 s")
    assert outcome({**row, "score": -0.0702}, -0.03).startswith(
        "score -0.0702 (below the threshold -0.03)")
    assert outcome({"status": "failed", "score": None, "reason": "the worker exceeded its "
                    "1800 s time limit and was killed"}, 1.5) == (
        "failed: the worker exceeded its 1800 s time limit and was killed")


def test_a_resumed_training_counts_the_time_of_the_processes_before():
    assert training_wall({"wall_time_s": 1185.0, "resumed_train_time_s": 7900.0}) == 9085.0
    assert training_wall({"wall_time_s": 20.0}) == 20.0
    assert training_wall({"status": "failed"}) is None


def test_tables_show_each_training_as_it_is_recorded(tmp_path):
    """A batch of hours writes its tables after every training, not only at its end: a
    stopped batch keeps them, and they say which methods are not trained yet."""
    batch = Batch(BatchConfig(suite="cartpole", out=tmp_path))
    batch.root.mkdir(parents=True, exist_ok=True)
    batch._record({"task": "CartPole-v1:balance", "method": "sparse", "seed": 0,
                   "status": "trained", "score": 500.0, "success_rate": 1.0})
    markdown = (tmp_path / "results.md").read_text()
    assert "| CartPole-v1:balance | 475 | 500 | - | - |" in markdown
    assert "no normalised score: expert, designed not trained" in markdown
    assert "sparse: mean evaluation score meets the task's threshold on 1 of 2 tasks " \
        "(1 not trained yet)" in markdown
    assert "expert: mean evaluation score meets the task's threshold on 0 of 2 tasks " \
        "(2 not trained yet)" in markdown
    assert (tmp_path / "results.csv").exists() and (tmp_path / "results.html").exists()


def _start(tmp_path, *args):
    exe = Path(sys.executable).with_name("text2reward")
    log = open(tmp_path / "stderr.log", "w")
    return subprocess.Popen([str(exe), *args], stdout=subprocess.DEVNULL, stderr=log)


def _wait_for(predicate, proc, what, timeout=120.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert proc.poll() is None, f"the command ended before {what}"
        assert time.monotonic() < deadline, f"no {what} within {timeout:.0f} s"
        time.sleep(0.2)


def _processes_under(folder: Path) -> list[str]:
    """Command lines of live processes that name ``folder`` (workers, trainings)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            text = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if str(folder) in text:
            found.append(text)
    return found


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_stopped_batch_stops_its_training_at_once_and_starts_no_other(tmp_path, sig):
    """Ctrl-C used to wait for the running training and then run every queued one of the
    phase, recording none of them; SIGTERM ended the batch without a word."""
    out = tmp_path / "batch"
    proc = _start(tmp_path, "batch", "--suite", "cartpole", "--samples", "1", "--rounds", "1",
                  "--timesteps", "300000", "--workers", "1", "--out", str(out))
    job = out / "CartPole-v1-balance" / "sparse-s0" / "job.json"
    _wait_for(job.exists, proc, "training")
    time.sleep(2)
    proc.send_signal(sig)
    assert proc.wait(timeout=30) == 130
    err = (tmp_path / "stderr.log").read_text()
    assert f"interrupted; finished trainings are kept: rerun with --out {out}" in err
    assert "expert seed 0: training" not in err  # nothing queued was started
    assert not (out / "results.jsonl").exists()  # and nothing half-done recorded
    deadline = time.monotonic() + 10
    while _processes_under(out) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _processes_under(out) == []


def test_a_stopped_calibration_leaves_no_training_behind(tmp_path):
    """`bench experts` trains in child processes: a SIGTERM of the command used to leave them
    training on, unseen, into the folder a rerun resumes from."""
    results = tmp_path / "cal.jsonl"
    proc = _start(tmp_path, "bench", "experts", "--task", "CartPole-v1:balance", "--seeds", "1",
                  "--reward", "expert", "--set", "timesteps=300000", "--jobs", "1",
                  "--results", str(results))
    work = tmp_path / "cal.jsonl.work"
    _wait_for(lambda: work.exists() and any(work.iterdir()), proc, "training")
    time.sleep(3)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 130
    assert "interrupted; finished trainings are in" in (tmp_path / "stderr.log").read_text()
    deadline = time.monotonic() + 10  # the pool's children die with it (PR_SET_PDEATHSIG)
    while _processes_under(tmp_path) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _processes_under(tmp_path) == []
    assert not results.exists()
