# category: introspection escape
# expected: static
# why: dynamic attribute access
import numpy as np


def compute_reward(state, action, next_state):
    save = getattr(np, "sa" + "ve")
    return next_state.obs[:, 0], {}
