# category: mutating state
# expected: runtime
# why: in-place arithmetic on an input
import numpy as np


def compute_reward(state, action, next_state):
    x = next_state.cart_position
    x *= 0.0
    return x + 1.0, {}
