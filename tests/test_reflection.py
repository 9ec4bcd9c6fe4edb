"""Reflection text and rule-based findings from training metrics."""

from text2reward.analysis.reflection import findings, reflect
from text2reward.search.records import TrainingResult


def result(scores, rewards, comps, final_score, terminated=0, threshold=475.0):
    snaps = [{"step": i * 100, "score": s, "reward_return": r, "length": s,
              "components": {k: v[i] for k, v in comps.items()}}
             for i, (s, r) in enumerate(zip(scores, rewards, strict=True))]
    final = {"score": final_score, "success_rate": 0.0, "length": final_score, "episodes": 10,
             "terminated": terminated, "reward_return": rewards[-1],
             "components": {k: v[-1] for k, v in comps.items()}}
    return {"status": "trained", "steps": 1000, "threshold": threshold, "snapshots": snaps,
            "eval": final}


def kinds(r):
    return [f["kind"] for f in findings(r)]


def test_reward_rising_while_score_does_not_is_named_hacking():
    r = result([20, 21, 19, 20, 20], [1, 5, 10, 20, 40],
               {"speed": [1, 5, 10, 20, 40], "upright": [1, 1, 1, 1, 1.0001]}, 20, terminated=10)
    assert kinds(r)[0] == "reward_hacking"
    assert "went from 1 to 40" in findings(r)[0]["evidence"]


def test_a_task_score_that_stops_short_of_the_threshold_is_named_stalled():
    # Hopper back_flip's designed reward in the novel batch: 1M steps at 0.834-0.846 turns
    spin = [585, 653, 660, 658, 653, 654, 647, 654, 646, 639]
    scores = [0.834, 0.845, 0.845, 0.846, 0.846, 0.845, 0.845, 0.845, 0.845, 0.845]
    r = result(scores, spin, {"spin": spin}, 0.845, threshold=1.0)
    stalled = next(f for f in findings(r) if f["kind"] == "stalled")
    assert stalled["evidence"].startswith(
        "the task score stayed at 0.845 over the last half of training (from "
        "step 500 on), 0.155 short of the threshold 1:")
    assert "- stalled: the task score stayed" in reflect(r)  # the designer is told
    # a score that never left 0 (Walker2d stand_one_leg's designed reward)
    flat = result([0] * 8, [900] * 8, {"lift": [9] * 8}, 0.0, threshold=0.5)
    assert "the task score stayed at 0 over" in findings(flat)[0]["evidence"]
    wobbly = result([0.2, 0.3, 0.5, 0.6, 0.62, 0.63, 0.62, 0.63], [1] * 8, {"a": [1] * 8}, 0.63,
                    threshold=1.0)
    assert "stayed between 0.62 and 0.63 over" in findings(wobbly)[0]["evidence"]
    # slow progress, a solved training and a short curve are not stalled
    rising = result([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8], [1] * 8, {"a": [1] * 8}, 0.8,
                    threshold=1.0)
    solved = result([1.2] * 8, [1] * 8, {"a": [1] * 8}, 1.2, threshold=1.0)
    short = result([0.5] * 5, [1] * 5, {"a": [1] * 5}, 0.5, threshold=1.0)
    assert all("stalled" not in kinds(x) for x in (rising, solved, short))


def test_constant_dominant_and_negligible_components():
    r = result([10, 20, 30], [10, 20, 30],
               {"big": [100, 200, 300], "flat": [1, 1, 1], "tiny": [0.01, 0.02, 0.03]}, 30)
    found = {(f["kind"], f.get("component")) for f in findings(r)}
    assert ("dominant", "big") in found and ("constant", "flat") in found


def test_reflection_lists_every_component_with_max_mean_min():
    r = result([10, 20, 30], [1, 2, 3], {"up": [1, 2, 3], "c": [-1, -2, -3]}, 30)
    text = reflect(r)
    for name in ("up:", "c:", "task_score:", "episode_length:", "Max:", "Mean:", "Min:"):
        assert name in text


def test_selection_uses_task_success_not_the_candidates_reward():
    a = result([1], [1000], {"x": [1000]}, 100)
    b = result([1], [1], {"x": [1]}, 400)
    rank = lambda r: TrainingResult.from_json(r).rank  # noqa: E731
    assert rank(b) > rank(a)
    assert rank({"status": "failed"}) < rank(a)


def test_cartpole_feedback_prompt_stays_under_1500_tokens():
    import litellm

    from text2reward.designer import DesignContext, Feedback
    from text2reward.envs import load_spec
    from text2reward.llm.prompts import feedback_messages

    spec = load_spec("CartPole-v1")
    task = spec.tasks["balance"]
    comps = {name: [float(i) * 1.2345 for i in range(10)]
             for name in ("upright", "centred", "calm", "alive", "bonus")}
    r = result([9.87 * i for i in range(10)], [12.345 * i for i in range(10)], comps, 98.7,
               terminated=6)
    source = task.expert_path.read_text()
    ctx = DesignContext(spec, task.description, task, 1,
                        Feedback(source, reflect(r), findings=findings(r)))
    turn = feedback_messages(ctx)[-1]
    assert "task_score" in turn["content"]
    assert litellm.token_counter(model="gpt-4o-mini", messages=[turn]) < 1500


def test_a_training_curve_above_the_threshold_and_an_evaluation_below_it_are_told_apart():
    r = result([100, 480, 300], [100, 480, 300], {"alive": [100, 480, 300]}, 250)
    unstable = next(f for f in findings(r) if f["kind"] == "unstable")
    assert "training episodes (stochastic policy) reached score 480 (>= 475) at step 100" \
        in unstable["evidence"]
    assert "final evaluation (deterministic policy, 10 episodes) scores 250" \
        in unstable["evidence"]
