# category: infinite loop
# expected: timeout
# why: passes both critics' static view; the worker is killed at its time limit
import numpy as np


def compute_reward(state, action, next_state):
    total = 0.0
    for i in range(10**15):
        total += i
    return next_state.obs[:, 0] + total, {}
