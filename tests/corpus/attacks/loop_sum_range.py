# category: CPU bomb
# expected: timeout
# why: one long C-level call; the worker is killed at its time limit
import numpy as np


def compute_reward(state, action, next_state):
    total = sum(range(10**15))
    return next_state.obs[:, 0] + total, {}
