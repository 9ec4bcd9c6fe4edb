"""--stop-on-success: once a candidate meets the target in every evaluation episode, the search
ends; the round's candidates not started yet are skipped (and a user's --success file counts)."""

import json

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


def test_a_candidate_meeting_the_target_skips_the_rest_of_the_search(tmp_path):
    out, summary = _run(tmp_path)
    assert summary["success"]["kind"] == "user" and summary["success"]["threshold"] == 5.0
    assert len(summary["rounds"]) == 1
    first, *rest = summary["rounds"][0]["candidates"]
    assert first["status"] == "trained" and first["success_rate"] == 1.0 and first["success"]
    assert [(c["status"], c["reason"]) for c in rest] == [("skipped", "target met by r0 c0")] * 2
    assert summary["env_steps"] == first["steps"]
    assert summary["stopped"].startswith("solved in round 0")
    events = [json.loads(line) for line in (out / "journal.jsonl").read_text().splitlines()]
    assert {"event": "target_met", "round": 0, "index": 0}.items() <= next(
        e for e in events if e["event"] == "target_met").items()
    assert "skipped" in (out / "report.html").read_text()


def test_keep_going_trains_every_candidate(tmp_path):
    _, summary = _run(tmp_path, "--keep-going", "--rounds", "1")
    assert [c["status"] for c in summary["rounds"][0]["candidates"]] == ["trained"] * 3
