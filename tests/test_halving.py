"""Successive halving stops trainings clearly behind their peers, never solved ones."""

from text2reward.search.halving import SuccessiveHalving


def test_the_first_to_reach_a_rung_always_continues():
    sh = SuccessiveHalving(rungs=(0.25,), threshold=475)
    assert not sh.report("a", 300, 1000, 10.0)


def test_a_candidate_clearly_behind_at_a_rung_is_stopped_once():
    sh = SuccessiveHalving(rungs=(0.25, 0.5), threshold=475)
    assert not sh.report("a", 250, 1000, 200.0)
    assert sh.report("b", 250, 1000, 50.0)
    assert not sh.report("b", 260, 1000, 50.0)  # a rung is judged once per candidate


def test_close_scores_and_solved_candidates_continue():
    sh = SuccessiveHalving(rungs=(0.25,), threshold=475)
    assert not sh.report("a", 250, 1000, 200.0)
    assert not sh.report("b", 250, 1000, 190.0)  # within the 10% margin
    sh2 = SuccessiveHalving(rungs=(0.25,), threshold=100)
    assert not sh2.report("a", 250, 1000, 500.0)
    assert not sh2.report("b", 250, 1000, 120.0)  # behind, but already meets the threshold


def test_reports_before_the_rung_or_without_a_score_are_ignored():
    sh = SuccessiveHalving(rungs=(0.5,))
    assert not sh.report("a", 100, 1000, 1.0)
    assert not sh.report("a", 600, 1000, None)
    assert sh.scores[0.5] == []


# -- deterministic decisions at fixed fractions --------------------------------------------------
from text2reward.search.halving import GO, RungSchedule  # noqa: E402


def test_a_decision_waits_for_every_lower_index_candidate_and_never_for_higher_ones():
    s = RungSchedule(rungs=(0.25,), threshold=475, pauses=(0.25,))
    s.open_round(0)
    assert s.report((0, 2), 0.25, 10.0) == []  # candidate 0 and 1 have not passed 0.25 yet
    assert s.report((0, 0), 0.25, 300.0) == [((0, 0), 0.25, GO)]  # nobody below it
    assert s.report((0, 1), 0.25, 290.0) == [((0, 1), 0.25, GO), ((0, 2), 0.25,
                                                                  "behind at rung 1 (25%)")]


def test_a_candidate_that_ended_early_releases_the_others_and_a_solver_stops_them():
    s = RungSchedule(rungs=(0.5,), threshold=475, pauses=(0.3, 0.5))
    s.open_round(0)
    assert s.report((0, 1), 0.3, 100.0) == []
    assert s.end((0, 0), 0.0, False) == [((0, 1), 0.3, GO)]  # rejected, never trained
    assert s.report((0, 2), 0.3, 100.0) == [((0, 2), 0.3, GO)]
    s2 = RungSchedule(rungs=(0.5,), threshold=475, pauses=(0.3, 0.5))
    s2.open_round(0)
    s2.report((0, 0), 0.3, 500.0)
    assert s2.report((0, 1), 0.5, 100.0) == []  # waits: candidate 0 is past 0.3, not ended
    assert s2.end((0, 0), 0.4, True) == [((0, 1), 0.5, "another candidate solved the task "
                                                       "(r0 c0)")]


def test_earlier_rounds_are_peers_at_every_rung():
    s = RungSchedule(rungs=(0.25,), threshold=None, pauses=(0.25,))
    s.open_round(0)
    s.report((0, 0), 0.25, 100.0)
    s.end((0, 0), 1.0, False)
    s.open_round(1)
    assert s.report((1, 0), 0.25, 10.0) == [((1, 0), 0.25, "behind at rung 1 (25%)")]
