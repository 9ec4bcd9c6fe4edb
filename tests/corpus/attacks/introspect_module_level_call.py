# category: introspection escape
# expected: static
# why: module-level code runs at load time
import numpy as np

TABLE = np.load("/etc/passwd")


def compute_reward(state, action, next_state):
    return next_state.obs[:, 0], {}
