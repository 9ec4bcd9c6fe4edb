"""Faults a long run must survive: dead workers, LLM outages, a full disk, bad input."""

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fake_openai import Fail, Say, cartpole_reply
from test_cli import GOOD, TASK, t2r

from text2reward.sandbox.job import Job
from text2reward.sandbox.local import kill_all, run_job


def test_a_worker_that_dies_mid_training_is_a_failed_candidate_with_its_reason(tmp_path):
    (tmp_path / "p.py").write_text(GOOD)
    seen = []

    def on_event(event):
        if not seen:
            seen.append(event)
            kill_all()

    result = run_job(Job("train", "CartPole-v1", str(tmp_path / "p.py"), str(tmp_path),
                         timesteps=200_000), on_event)
    assert seen and result["status"] == "failed"
    assert "killed by signal SIGKILL" in result["reason"]


def test_llm_outage_mid_run_stops_cleanly_and_resume_finishes(tmp_path, fake_openai):
    # Round 0 is answered; then the server fails every request until retries run out.
    fake_openai.queue(Say([cartpole_reply(0), cartpole_reply(1)]), *[Fail(503)] * 5)
    out = tmp_path / "run"
    args = ["--env", "CartPole-v1", "--task", TASK, "--model", "openai/fake-model", "--api-base",
            fake_openai.api_base, "--samples", "2", "--rounds", "2", "--timesteps", "2000",
            "--keep-going", "--out", str(out)]
    first = t2r("run", *args, env={"OPENAI_API_KEY": None})
    assert first.returncode == 1, first.stderr
    assert first.stderr.strip().splitlines()[-1].startswith("error: ")
    summary = json.loads((out / "summary.json").read_text())
    assert len(summary["rounds"]) == 1 and len(summary["rounds"][0]["candidates"]) == 2

    resumed = t2r("resume", str(out), env={"OPENAI_API_KEY": None})  # the server is back
    assert resumed.returncode == 0, resumed.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert [len(r["candidates"]) for r in summary["rounds"]] == [2, 2]


@pytest.fixture
def tiny_disk(tmp_path):
    mount = tmp_path / "disk"
    mount.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=400k", "tmpfs", str(mount)],
                          capture_output=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {proc.stderr.decode().strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def test_disk_full_gives_a_clear_error_and_corrupts_nothing(tiny_disk):
    out = tiny_disk / "run"
    proc = t2r("run", "--env", "CartPole-v1", "--task", TASK, "--samples", "2", "--rounds", "2",
               "--timesteps", "2000", "--keep-going", "--out", str(out))
    assert proc.returncode == 1, proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("error: ") and ("disk full" in last or "No space left" in last), last
    if (out / "summary.json").exists():
        json.loads((out / "summary.json").read_text())  # whole or absent, never torn
    journal = out / "journal.jsonl"
    lines = journal.read_text().splitlines() if journal.exists() else []
    for line in lines[:-1]:
        json.loads(line)  # at most the last line may be torn


@pytest.mark.parametrize(
    "args, message",
    [
        (["batch", "--suite", "nope"], "unknown suite 'nope'"),
        (["batch", "--suite", "classic", "--seeds", "0"], "--seeds must be at least 1"),
        (["run", "--config", "cfg.yaml"], "unknown config key"),
        (["run", "--config", "missing.yaml"], "does not exist"),
        (["resume", "no-such-run"], "not a text2reward run folder"),
        (["check", "--env", "NoSuchEnv-v0", "good.py"], "unknown env"),
        (["train", "--env", "CartPole-v1", "--reward", "good.py", "--task", "nope"], "has no task"),
    ],
)
def test_bad_input_is_one_clear_line_and_exit_2(tmp_path, args, message):
    (tmp_path / "cfg.yaml").write_text("env: CartPole-v1\ntask: balance\nsampels: 2\n")
    (tmp_path / "good.py").write_text(GOOD)
    proc = t2r(*args, cwd=tmp_path)
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], proc.stderr
    assert not (tmp_path / "batches").exists() and not (tmp_path / "runs").exists()


@pytest.mark.slow
def test_soak_64_candidates_with_two_workers_memory_flat_no_zombies(tmp_path):
    out = tmp_path / "soak"
    exe = Path(sys.executable).with_name("text2reward")
    proc = subprocess.Popen([str(exe), "run", "--env", "CartPole-v1", "--task", "balance",
                             "--samples", "16", "--rounds", "4", "--timesteps", "1000",
                             "--workers", "2", "--keep-going", "--no-early-stop",
                             "--out", str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    rss = []  # (time, kB) of the run process while it works
    while proc.poll() is None:
        try:
            status = Path(f"/proc/{proc.pid}/status").read_text()
            kb = int(next(line for line in status.splitlines()
                          if line.startswith("VmRSS")).split()[1])
            rss.append((time.time(), kb))
        except (FileNotFoundError, StopIteration, ProcessLookupError):
            pass
        zombies = subprocess.run(["ps", "-eo", "stat,ppid"], capture_output=True, text=True).stdout
        assert sum(1 for line in zombies.splitlines()
                   if line.startswith("Z") and line.split()[1] == str(proc.pid)) <= 2
        subprocess.run(["sleep", "2"])
    assert proc.returncode == 0, proc.stderr.read().decode()
    summary = json.loads((out / "summary.json").read_text())
    records = [c for r in summary["rounds"] for c in r["candidates"]]
    assert len(records) == 64 and all(c["status"] for c in records)
    # Memory over the rounds (the report built after the last candidate loads more, once).
    journal = [json.loads(line) for line in (out / "journal.jsonl").read_text().splitlines()]
    last = max(e["time"] for e in journal if e["event"] == "candidate")
    during = [kb for t, kb in rss if t <= last and kb > 1000]
    quarter = max(len(during) // 4, 1)
    assert max(during[-quarter:]) < 1.2 * max(during[:quarter]) + 20_000, during  # flat
