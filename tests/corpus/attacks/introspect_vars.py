# category: introspection escape
# expected: static
# why: object introspection
import numpy as np


def compute_reward(state, action, next_state):
    names = vars(np)
    return next_state.obs[:, 0], {}
