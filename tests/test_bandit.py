"""The budget bandit (--allocation bandit): one training at a time, the budget moved at each
pause to the candidate whose score still improves, decisions in a fixed order."""

import json

from test_cli import t2r

from text2reward.search.bandit import PENDING, START, BudgetBandit
from text2reward.search.halving import GO


def _bandit(size=3, **kw):
    b = BudgetBandit(threshold=10.0, halving=False, pauses=(0.1, 0.2, 0.3, 0.4, 0.5),
                     judge_from=0.4, **kw)
    b.open_round(0, size)
    return b


def test_candidates_start_one_at_a_time_in_order_whatever_order_they_arrive_in():
    b = _bandit()
    assert b.arrive((0, 2)) == []  # candidate 0 is still in its critics: nobody starts
    assert b.arrive((0, 1)) == []
    assert b.arrive((0, 0)) == [((0, 0), START, GO)]
    assert b.report((0, 0), 0.1, 1.0) == [((0, 0), 0.1, GO)]  # improving: it keeps going


def test_a_stalled_candidate_waits_and_the_budget_moves_to_the_next():
    b = _bandit()
    for j in range(3):
        b.arrive((0, j))
    for pause, score in ((0.1, 1.0), (0.2, 2.0), (0.3, 3.0)):
        assert b.report((0, 0), pause, score) == [((0, 0), pause, GO)]
    # a line through 1, 2, 3, 4.5 reaches 11.2 at the whole budget: it heads for 10
    assert b.report((0, 0), 0.4, 4.5) == [((0, 0), 0.4, GO)]
    # through 2, 3, 4.5, 4.6 it reaches 9.6 only: it waits at 0.5, candidate 1 starts
    assert b.report((0, 0), 0.5, 4.6) == [((0, 1), START, GO)]
    assert b.take_moves() == [{"round": 0, "from": 0, "pause": 0.5, "to": 1}]
    # candidate 1 ends without meeting the target: candidate 2 is the next not tried
    assert b.end((0, 1), 1.0, False, {0.1: 0.5}) == [((0, 2), START, GO)]
    # candidate 2 fails before its first pause: the best paused candidate resumes
    assert b.end((0, 2), 0.0, False) == [((0, 0), 0.5, GO)]


def test_a_stalled_candidate_waits_for_the_next_one_still_in_its_critics():
    b = _bandit()
    b.arrive((0, 0))
    for pause in (0.1, 0.2, 0.3):
        b.report((0, 0), pause, 2.0)
    assert b._alternative((0, 0)) == PENDING
    assert b.report((0, 0), 0.4, 2.0) == []  # waits: candidate 1 decides, not the clock
    assert b.end((0, 1), 0.0, False) == []  # rejected by its critics; 2 is not there yet
    assert b.arrive((0, 2)) == [((0, 2), START, GO)]


def test_a_candidate_meeting_the_threshold_is_never_made_to_wait():
    b = _bandit()
    for j in range(3):
        b.arrive((0, j))
    for pause in (0.1, 0.2, 0.3, 0.4, 0.5):
        assert b.report((0, 0), pause, 10.0) == [((0, 0), pause, GO)]


def test_once_the_target_is_met_the_paused_stop_and_the_rest_are_skipped():
    b = _bandit()
    for j in range(3):
        b.arrive((0, j))
    for pause in (0.1, 0.2, 0.3):
        b.report((0, 0), pause, 1.0)
    assert b.report((0, 0), 0.4, 1.0) == [((0, 1), START, GO)]  # flat: far from 10
    reason = "another candidate solved the task (r0 c1)"
    assert b.end((0, 1), 0.6, True) == [((0, 0), 0.4, reason), ((0, 2), START, reason)]


def test_behind_at_a_rung_stops_there_and_the_next_starts_once_it_ended():
    b = BudgetBandit(threshold=10.0, pauses=(0.1, 0.2))
    b.open_round(0, 3)
    for j in range(3):
        b.arrive((0, j))
    for pause, score in ((0.1, 5.0), (0.2, 6.0), (0.25, 7.0), (0.3, 8.0), (0.5, 9.0)):
        b.report((0, 0), pause, score)
    assert b.end((0, 0), 1.0, False) == [((0, 1), START, GO)]
    assert b.report((0, 1), 0.1, 1.0) == [((0, 1), 0.1, GO)]
    assert b.report((0, 1), 0.25, 1.0) == [((0, 1), 0.25, "behind at rung 1 (25%)")]
    # the budget moves on only once its evaluation is known (it may still meet the target)
    assert b.end((0, 1), 0.25, False) == [((0, 2), START, GO)]


def _run(tmp_path, workers):
    out = tmp_path / f"w{workers}"
    proc = t2r("run", "--env", "CartPole-v1", "--task", "balance", "--model", "offline",
               "--samples", "3", "--rounds", "1", "--timesteps", "8000", "--seed", "1",
               "--allocation", "bandit", "--reeval-seeds", "1", "--workers", workers,
               "--out", str(out))
    assert proc.returncode in (0, 1), proc.stderr
    summary = json.loads((out / "summary.json").read_text())
    events = [json.loads(line) for line in (out / "journal.jsonl").read_text().splitlines()]
    assert "budget bandit: one training at a time" in (out / "report.html").read_text()
    return summary, events


def test_a_bandit_search_is_the_same_for_any_number_of_workers(tmp_path):
    runs = []
    for workers in ("2", "1"):
        summary, events = _run(tmp_path, workers)
        runs.append(([(c["index"], c["status"], c["score"], c["steps"], c["stopped_early"])
                      for r in summary["rounds"] for c in r["candidates"]],
                     [{k: e[k] for k in e if k != "time"} for e in events
                      if e["event"] in ("budget_moved", "stop_decision", "target_met")]))
    assert runs[0] == runs[1]
    assert runs[0][1], "no decision was taken: the test shows nothing"
    steps = [c[3] for c in runs[0][0]]
    assert summary["env_steps"] == sum(steps)


def test_no_candidate_is_judged_stalled_before_half_its_budget():
    """Learning curves often stay flat, then rise (SAC on Pendulum): flat scores early on
    keep the budget where it is."""
    b = BudgetBandit(threshold=10.0, halving=False)
    b.open_round(0, 2)
    b.arrive((0, 0))
    b.arrive((0, 1))
    for pause in (0.1, 0.2, 0.3, 0.4):
        assert b.report((0, 0), pause, 0.0) == [((0, 0), pause, GO)]
    assert b.report((0, 0), 0.5, 0.0) == [((0, 1), START, GO)]
