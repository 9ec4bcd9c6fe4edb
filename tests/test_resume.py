"""Runs survive kill -9 and Ctrl-C: `resume` finishes them without redoing or losing work."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from test_cli import t2r

from text2reward.store import RunStore

ARGS = ["--env", "CartPole-v1", "--task", "balance", "--model", "offline", "--samples", "2",
        "--rounds", "3", "--timesteps", "3000", "--keep-going"]


def start_run(out: Path) -> subprocess.Popen:
    """The run in its own session; its output goes to ``run.log`` beside its folder."""
    exe = Path(sys.executable).with_name("text2reward")
    out.parent.mkdir(parents=True, exist_ok=True)
    log = open(out.parent / "run.log", "w")  # noqa: SIM115 (the child writes it)
    # Ctrl-C must reach it as from a terminal, also when this test runs as a background job
    # of a shell without job control (which starts it with SIGINT ignored, inherited).
    return subprocess.Popen([str(exe), "run", *ARGS, "--out", str(out)], stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def run_log(out: Path) -> str:
    """The end of the run's output, for assertion messages."""
    return (out.parent / "run.log").read_text()[-3000:]


def wait_for_candidates(out: Path, count: int, proc: subprocess.Popen,
                        timeout: float = 240) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        journal = out / "journal.jsonl"
        if journal.exists() and journal.read_text().count('"event": "candidate"') >= count:
            return
        assert proc.poll() is None, "the run ended before it could be interrupted"
        time.sleep(0.2)
    raise AssertionError("the run made no progress")


def live_workers(out: Path) -> int:
    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    return sum(1 for line in ps.splitlines()
               if "text2reward.sandbox.worker" in line and str(out) in line)


def test_kill_9_after_the_first_round_then_resume_keeps_every_candidate_once(tmp_path):
    out = tmp_path / "run"
    proc = start_run(out)
    wait_for_candidates(out, 2, proc)
    first = {p: p.stat().st_mtime_ns for p in (out / "rounds" / "r00").glob("c*/result.json")}
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    time.sleep(0.5)
    assert live_workers(out) == 0, "workers must die with their run"

    resumed = t2r("resume", str(out))
    assert resumed.returncode == 0, resumed.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "finished"
    assert [[c["index"] for c in r["candidates"]] for r in summary["rounds"]] == [[0, 1]] * 3
    assert all(c["status"] == "trained" for r in summary["rounds"] for c in r["candidates"])
    # round 0 was finished before the kill: reused, not trained again
    assert {p: p.stat().st_mtime_ns for p in first} == first
    assert "2 finished candidates kept" in resumed.stderr


def test_ctrl_c_stops_cleanly_and_the_run_is_resumable(tmp_path):
    out = tmp_path / "run"
    proc = start_run(out)
    wait_for_candidates(out, 1, proc)
    os.kill(proc.pid, signal.SIGINT)
    assert proc.wait(timeout=60) == 130, run_log(out)
    assert live_workers(out) == 0
    summary_path = out / "summary.json"
    summary = json.loads(summary_path.read_text()) if summary_path.exists() else None
    assert summary is None or summary["status"] == "running"
    resumed = t2r("resume", str(out))
    assert resumed.returncode == 0, resumed.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert sum(len(r["candidates"]) for r in summary["rounds"]) == 6


def test_a_second_process_on_the_same_run_is_refused(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "config.json").write_text(json.dumps({"env": "CartPole-v1", "task": "balance"}))
    holder = RunStore.open(out)
    try:
        proc = t2r("resume", str(out))
    finally:
        holder.close()
    assert proc.returncode == 2
    assert "another text2reward process is using" in proc.stderr


def test_resume_of_a_folder_that_is_not_a_run_is_bad_input(tmp_path):
    proc = t2r("resume", str(tmp_path))
    assert proc.returncode == 2 and "not a text2reward run folder" in proc.stderr


def test_an_interrupt_whose_exception_was_lost_still_stops_the_run(tmp_path):
    """The Ctrl-C handler also sets loop.interrupted: should Python drop its KeyboardInterrupt
    (raised inside a destructor), the loop still stops while it waits for trainings."""
    import threading

    import pytest

    from text2reward.config import RunConfig
    from text2reward.search.loop import Loop
    from text2reward.search.start import prepare

    config = RunConfig(env="CartPole-v1", task="balance", model="offline", samples=2, rounds=2,
                       stop_on_success=False, prescreen=False, timesteps=200_000,
                       out=str(tmp_path / "run"))
    setup, designer = prepare(config)
    store = RunStore.create(Path(config.out), config.to_dict())
    loop = Loop(config, setup, designer, store)
    started = time.time()
    timer = threading.Timer(5.0, loop.interrupted.set)  # a flag, no exception anywhere
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            loop.run()
    finally:
        timer.cancel()
        store.close()
    assert time.time() - started < 60  # well before two 200k-step trainings could finish
    assert live_workers(Path(config.out)) == 0
    assert not list(Path(config.out).glob("rounds/r00/c*/result.json"))  # nothing half-done
