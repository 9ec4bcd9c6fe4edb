# category: introspection escape
# expected: static
# why: attributes inside f-strings are checked like any other
import numpy as np


def compute_reward(state, action, next_state):
    text = f"{action.__class__.__mro__}"
    return np.ones(len(next_state.obs)) * len(text), {}
