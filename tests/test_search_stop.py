"""--stop-on-success: once a candidate meets the target in every evaluation episode, the search
ends; the round's other trainings stop at their first pause at or after the fraction of its
budget where it ended, as if the round's trainings ran side by side (a user's --success file
counts too). Decisions are taken at fixed step counts, so a seed gives the same search."""

import json
import math

from test_cli import TASK, t2r

SUCCESS = '''
THRESHOLD = 5


def score(episode):
    """Steps survived."""
    return float(episode.length)
'''


def _run(tmp_path, *extra):
    success = tmp_path / "success.py"
    success.write_text(SUCCESS)
    out = tmp_path / "run"
    proc = t2r("run", "--env", "CartPole-v1", "--task", TASK, "--model", "offline",
               "--samples", "3", "--rounds", "2", "--workers", "1", "--timesteps", "2000",
               "--success", str(success), *extra, "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    return out, json.loads((out / "summary.json").read_text())


def test_a_candidate_meeting_the_target_stops_the_rest_of_the_search(tmp_path):
    out, summary = _run(tmp_path, "--allocation", "rungs")
    assert summary["success"]["kind"] == "user" and summary["success"]["threshold"] == 5.0
    assert len(summary["rounds"]) == 1
    first, *rest = summary["rounds"][0]["candidates"]
    assert first["status"] == "trained" and first["success_rate"] == 1.0 and first["success"]
    assert first["stopped_early"] == "solved" and first["steps"] < 2000
    assert all(c["stopped_early"] in ("solved", "another candidate solved the task (r0 c0)")
               for c in rest), rest  # each solves itself, or stops at the solver's fraction
    pause = math.ceil(first["steps"] / 2000 * 10) / 10  # pauses every 10% of the budget
    assert all(c["steps"] <= pause * 2000 + 8 for c in rest), (first["steps"], rest)
    assert summary["env_steps"] == sum(c["steps"] for c in [first, *rest])
    assert summary["stopped"].startswith("solved in round 0")
    events = [json.loads(line) for line in (out / "journal.jsonl").read_text().splitlines()]
    assert {"event": "target_met", "round": 0, "index": 0}.items() <= next(
        e for e in events if e["event"] == "target_met").items()
    assert "stopped early: solved" in (out / "report.html").read_text()


def test_with_the_budget_bandit_the_others_never_start(tmp_path):
    out, summary = _run(tmp_path)  # --allocation bandit, the default
    assert summary["allocation"] == "bandit"
    first, *rest = summary["rounds"][0]["candidates"]
    assert first["status"] == "trained" and first["success_rate"] == 1.0
    assert [c["status"] for c in rest] == ["skipped", "skipped"]
    assert all(c["reason"] == "another candidate solved the task (r0 c0)" for c in rest)
    assert summary["env_steps"] == first["steps"]  # the search cost its winner's training
    assert "budget bandit: one training at a time" in (out / "report.html").read_text()


def test_keep_going_trains_every_candidate(tmp_path):
    _, summary = _run(tmp_path, "--keep-going", "--rounds", "1")
    assert [c["status"] for c in summary["rounds"][0]["candidates"]] == ["trained"] * 3


def test_the_same_seed_gives_the_same_search_whatever_the_number_of_workers(tmp_path):
    runs = []
    for workers in ("2", "1"):
        out = tmp_path / f"w{workers}"
        proc = t2r("run", "--env", "CartPole-v1", "--task", "balance", "--model", "offline",
                   "--samples", "2", "--rounds", "2", "--keep-going", "--timesteps", "20000",
                   "--seed", "3", "--workers", workers, "--out", str(out))
        assert proc.returncode == 0, proc.stderr
        summary = json.loads((out / "summary.json").read_text())
        runs.append([(c["index"], c["status"], c["score"], c["steps"], c["stopped_early"])
                     for r in summary["rounds"] for c in r["candidates"]])
    assert runs[0] == runs[1]
    assert any(stop and stop.startswith("behind at rung") for *_, stop in runs[0]), runs[0]
