"""A search killed mid-round continues where it was: the schedule's inputs are replayed from
the journal, so the same candidate holds the budget and the same ones wait at their pauses;
each training continues from its checkpoint; shared experience is neither lost nor taken
twice."""

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
from test_cli import t2r

from text2reward.runfolder import read_journal
from text2reward.sandbox import decision_path
from text2reward.search.halving import PAUSES
from text2reward.search.records import CandidateRecord
from text2reward.search.stopping import Stopping
from text2reward.store import RunStore
from text2reward.training import experience


def _stopping(root: Path) -> Stopping:
    config = SimpleNamespace(early_stop=False, stop_on_success=True, allocation="bandit",
                             executor="local")
    stopping = Stopping(config, 10.0, RunStore.open(root))
    stopping.plan(reviewed=False)
    stopping.schedule.pauses = (0.1, 0.2, 0.3, 0.4, 0.5)
    stopping.schedule.judge_from = 0.4
    return stopping


def _report(stopping: Stopping, at, pause: float, score: float) -> None:
    stopping.progress(at, stopping.store.candidate_dir(*at), {"event": "pause", "pause": pause,
                                                              "score": score})


def test_a_resumed_search_replays_its_schedule_and_answers_the_pauses_asked_again(tmp_path):
    RunStore.create(tmp_path / "run", {"env": "Pendulum-v1"}).close()
    first = _stopping(tmp_path / "run")
    first.open_round(0, {}, 2)
    assert first.starting((0, 0), first.store.candidate_dir(0, 0)) is None
    for pause in (0.1, 0.2, 0.3):
        _report(first, (0, 0), pause, 2.0)
    # candidate 1 arrives while candidate 0 holds the budget, and waits for its turn
    waiting = threading.Thread(target=first.starting,
                               args=((0, 1), first.store.candidate_dir(0, 1)))
    waiting.start()
    while (0, 1) not in first.schedule.ready:
        time.sleep(0.01)
    _report(first, (0, 0), 0.4, 2.0)  # flat: candidate 0 stalls and waits at 0.4
    waiting.join(5)
    assert not waiting.is_alive()
    assert first.schedule.waiting == {(0, 0): 0.4} and first.schedule.active == (0, 1)
    _report(first, (0, 1), 0.1, 3.0)
    journaled = [(e["call"], e["index"]) for e in read_journal(first.store.root)
                 if e["event"] == "schedule"]
    assert journaled == [("arrive", 0)] + [("report", 0)] * 3 + [("arrive", 1), ("report", 0),
                                                                  ("report", 1)]

    # the process is killed; a new one opens the round again with nothing finished
    first.store.close()
    for path in first.store.root.rglob("decision-*"):
        path.unlink()  # a worker's folder loses them when its job starts again
    second = _stopping(tmp_path / "run")
    second.open_round(0, {}, 2)
    assert second.schedule.waiting == {(0, 0): 0.4} and second.schedule.active == (0, 1)
    assert second.schedule.scores == first.schedule.scores
    before = len(read_journal(second.store.root))
    # a training resumed from a checkpoint before 0.3 passes 0.2 and 0.3 again: told "go"
    # again, with nothing journaled twice
    _report(second, (0, 0), 0.2, 2.5)
    assert decision_path(second.store.candidate_dir(0, 0), 0.2).read_text() == "go"
    # at 0.4, where it waited, it waits again: no decision yet
    _report(second, (0, 0), 0.4, 2.0)
    assert not decision_path(second.store.candidate_dir(0, 0), 0.4).exists()
    # candidate 1 is let through at once (it had started), its arrival not journaled again
    assert second.starting((0, 1), second.store.candidate_dir(0, 1)) is None
    assert len(read_journal(second.store.root)) == before
    # it ends: the budget goes back to candidate 0, at its pause 0.4
    record = CandidateRecord(index=1, round=0, origin="offline", params={})
    record.status = "failed"
    second.ended(record)
    assert decision_path(second.store.candidate_dir(0, 0), 0.4).read_text() == "go"
    assert [e["call"] for e in read_journal(second.store.root)[before:]] == ["end"]


ARGS = ["--env", "Pendulum-v1", "--task", "swing up", "--model", "offline", "--samples", "2",
        "--rounds", "1", "--timesteps", "2000", "--no-render", "--checkpoint-every", "1"]


def _checkpoint_step(folder: Path) -> int:
    try:
        return json.loads((folder / "checkpoint" / "state.json").read_text())["num_timesteps"]
    except (OSError, ValueError, KeyError):
        return 0


def test_a_bandit_search_killed_mid_training_resumes_every_training_where_it_was(tmp_path):
    success = tmp_path / "never.py"  # nothing meets it: candidate 0 stalls at half its budget
    success.write_text("THRESHOLD = 1.0\n\ndef score(episode):\n    return 0.0\n")
    out = tmp_path / "run"
    exe = Path(sys.executable).with_name("text2reward")
    with open(tmp_path / "run.log", "w") as log:
        proc = subprocess.Popen([str(exe), "run", *ARGS, "--success", str(success),
                                 "--out", str(out)], stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
    second = out / "rounds" / "r00" / "c01"
    deadline = time.time() + 300
    while _checkpoint_step(second) < 400:  # the budget moved to candidate 1, well under way
        assert proc.poll() is None, (tmp_path / "run.log").read_text()[-3000:]
        assert time.time() < deadline, "the search made no progress"
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    killed_at = _checkpoint_step(second)
    assert not (second / "result.json").exists()

    resumed = t2r("resume", str(out))
    assert resumed.returncode == 0, resumed.stderr
    assert "2 unfinished training(s) continue from their checkpoints" in resumed.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "finished"
    journal = read_journal(out)
    # the budget moved once, from 0 to 1 at half its budget, and nothing was decided twice
    moves = [e for e in journal if e["event"] == "budget_moved"]
    assert [(m["from"], m["to"], m["pause"]) for m in moves] == [(0, 1, 0.5)]
    arrivals = [e["index"] for e in journal if e.get("call") == "arrive"]
    assert sorted(arrivals) == [0, 1]  # once each (in the order their critics ended)
    results = [json.loads((out / "rounds" / "r00" / f"c{j:02d}" / "result.json").read_text())
               for j in (0, 1)]
    # candidate 1 continued from its checkpoint, with what it had taken at its start
    assert results[1]["resumed_from"] >= killed_at and results[1]["steps"] == 2000
    start = results[1]["shared"]["transitions"] - sum(
        x["transitions"] for x in results[1]["shared"].get("refreshes", []))
    assert 990 <= start <= 1000 and results[1]["shared"]["files"] == 1
    # candidate 0 continued from the checkpoint at its pause, waited there for candidate 1's
    # end, then took candidate 1's transitions once: recorded before and after the kill
    assert results[0]["resumed_from"] == 1000 and results[0]["steps"] == 2000
    [refresh] = results[0]["shared"]["refreshes"]
    assert refresh["pause"] == 0.5 and 1990 <= refresh["transitions"] <= 2000
    with np.load(second / experience.FILE) as data:
        assert int(data["recorded"]) == refresh["transitions"]
    for result in results:  # each pause once, in order (every 10%, and the halving rungs)
        assert [p["pause"] for p in result["pauses"]] == sorted({*PAUSES, 0.25, 0.5})
    assert not list(out.rglob("checkpoint"))  # removed once every training was saved


def test_side_by_side_a_later_candidate_is_judged_on_what_an_earlier_one_reported_before(
        tmp_path):
    RunStore.create(tmp_path / "run", {"env": "Pendulum-v1"}).close()
    config = SimpleNamespace(early_stop=True, stop_on_success=True, allocation="rungs",
                             executor="local")
    first = Stopping(config, 10.0, RunStore.open(tmp_path / "run"))
    first.plan(reviewed=False)
    first.open_round(0, {}, 2)
    for pause, score in ((0.1, 5.0), (0.2, 6.0), (0.25, 6.0)):
        _report(first, (0, 0), pause, score)
    first.store.close()
    # killed; candidate 0 continues from its checkpoint at 0.3, candidate 1 from step 0
    second = Stopping(config, 10.0, RunStore.open(tmp_path / "run"))
    second.plan(reviewed=False)
    second.open_round(0, {}, 2)
    folder = second.store.candidate_dir(0, 1)
    _report(second, (0, 1), 0.1, 1.0)  # candidate 0 passed 0.1 before: no waiting for it
    assert decision_path(folder, 0.1).read_text() == "go"
    _report(second, (0, 1), 0.25, 1.0)  # clearly behind candidate 0's 6.0 at the rung
    assert decision_path(folder, 0.25).read_text().startswith("behind at rung 1")


def test_a_round_journaled_under_the_bandit_is_not_replayed_side_by_side(tmp_path):
    """`refine` continues a run with a person reviewing rounds: side by side, not the bandit."""
    RunStore.create(tmp_path / "run", {"env": "Pendulum-v1"}).close()
    first = _stopping(tmp_path / "run")
    first.open_round(0, {}, 1)
    first.starting((0, 0), first.store.candidate_dir(0, 0))
    _report(first, (0, 0), 0.1, 2.0)
    record = CandidateRecord(index=0, round=0, origin="offline", params={}, status="failed")
    first.ended(record)
    first.store.close()
    config = SimpleNamespace(early_stop=True, stop_on_success=True, allocation="bandit",
                             executor="local")
    second = Stopping(config, 10.0, RunStore.open(tmp_path / "run"))
    second.plan(reviewed=True)
    assert second.allocation == "rungs"
    second.open_round(0, {0: record}, 1)  # the finished candidate is told as it ended
    assert second.schedule.ended == {(0, 0): (0.0, False)}
