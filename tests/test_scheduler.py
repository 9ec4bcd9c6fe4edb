"""Successive halving stops trainings clearly behind their peers, never solved ones."""

from text2reward.training.scheduler import SuccessiveHalving


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
