# category: CPU bomb
# expected: static
# why: a power tower builds an enormous integer
import numpy as np


def compute_reward(state, action, next_state):
    x = 10 ** 10 ** 10
    return next_state.obs[:, 0], {}
