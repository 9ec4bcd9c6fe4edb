# category: introspection escape
# expected: static
# why: evaluating strings as code
import numpy as np


def compute_reward(state, action, next_state):
    return eval("next_state.obs[:, 0]"), {}
