"""The offline designer renders valid programs and evolves them from findings."""

import numpy as np
import pytest

from text2reward.critic.static import check_source
from text2reward.designer import DesignContext, Feedback
from text2reward.envs import list_specs, load_spec
from text2reward.errors import UsageError
from text2reward.offline import OfflineDesigner, adjust, defaults, mutate, render

SPEC = load_spec("CartPole-v1")
TASK = SPEC.tasks["balance"]


def test_every_curated_family_renders_programs_the_critic_accepts():
    for spec in list_specs():
        for task in spec.tasks.values():
            assert task.family is not None, task.key
            source = render(task.family, defaults(task.family))
            assert check_source(source) == [], (task.key, source)


def test_zero_weight_components_are_dropped():
    params = defaults(TASK.family)
    assert params["w_calm"] == 0.0
    assert "calm" not in render(TASK.family, params)


def test_proposals_are_distinct_and_reproducible():
    ctx = DesignContext(SPEC, TASK.description, TASK, 0)
    a, _ = OfflineDesigner(seed=1).propose(ctx, 4)
    b, _ = OfflineDesigner(seed=1).propose(ctx, 4)
    assert [c.source for c in a] == [c.source for c in b]
    assert len({c.source for c in a}) == 4
    assert a[0].params == defaults(TASK.family)


def test_later_rounds_start_from_the_best_and_never_repeat():
    designer = OfflineDesigner()
    first, _ = designer.propose(DesignContext(SPEC, TASK.description, TASK, 0), 4)
    fb = Feedback(first[2].source, "", params=first[2].params)
    second, _ = designer.propose(DesignContext(SPEC, TASK.description, TASK, 1, fb), 4)
    assert not {c.source for c in first} & {c.source for c in second}


def test_findings_steer_the_parameters():
    params = {"w_upright": 1.0, "w_centred": 1.0, "w_calm": 0.0, "w_alive": 0.0}
    out = adjust(TASK.family, params, [{"kind": "dominant", "component": "upright"},
                                       {"kind": "negligible", "component": "centred"},
                                       {"kind": "early_termination"}])
    assert out["w_upright"] == 0.5 and out["w_centred"] == 2.0 and out["w_alive"] > 0


def test_mutations_stay_within_bounds():
    rng = np.random.default_rng(0)
    params = defaults(TASK.family)
    for _ in range(200):
        params = mutate(TASK.family, params, rng)
        assert 0.1 <= params["w_upright"] <= 5.0 and 0.0 <= params["w_alive"] <= 2.0


def test_free_form_tasks_get_a_clear_error():
    ctx = DesignContext(SPEC, "make the cart dance", None, 0)
    with pytest.raises(UsageError, match="--model"):
        OfflineDesigner().propose(ctx, 2)


def test_a_rejected_candidate_is_repaired_with_a_new_mutation_not_the_defaults():
    ctx = DesignContext(SPEC, TASK.description, TASK, 0)
    designer = OfflineDesigner(seed=1)
    proposed, _ = designer.propose(ctx, 2)
    repaired, exchanges = designer.repair(ctx, proposed[1], "on stored episodes the reward ...")
    assert exchanges == [] and repaired.origin == "offline:repair"
    assert repaired.params not in (defaults(TASK.family), proposed[0].params, proposed[1].params)
    assert check_source(repaired.source) == []
    again = OfflineDesigner(seed=1)
    again.propose(ctx, 2)
    assert again.repair(ctx, proposed[1], "")[0].source == repaired.source  # reproducible
