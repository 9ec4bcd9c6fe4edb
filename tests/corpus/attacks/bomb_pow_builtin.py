# category: CPU bomb
# expected: static
# why: pow with a huge exponent
import numpy as np


def compute_reward(state, action, next_state):
    x = pow(7, 10**9)
    return next_state.obs[:, 0], {}
