# category: recursion bomb
# expected: runtime
# why: unbounded recursion ends in RecursionError
import numpy as np


def compute_reward(state, action, next_state):
    def deeper(x):
        return deeper(x) + 1

    return deeper(next_state.obs[:, 0]), {}
