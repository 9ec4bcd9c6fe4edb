# category: introspection escape
# expected: static
# why: a numpy Python function's __globals__ hold the real numpy
import numpy as np


def compute_reward(state, action, next_state):
    real_np = np.linalg.norm.__globals__["np"]
    real_np.save("/tmp/x.npy", next_state.obs)
    return next_state.obs[:, 0], {}
