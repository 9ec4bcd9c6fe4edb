# category: introspection escape
# expected: static
# why: code objects
import numpy as np


def compute_reward(state, action, next_state):
    code = (lambda: 0).__code__
    return next_state.obs[:, 0], {}
