# category: import escape
# expected: static
# why: imports inside the function are checked too
import numpy as np


def compute_reward(state, action, next_state):
    import sys
    return sys.modules["os"].getpid(), {}
