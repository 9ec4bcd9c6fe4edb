# category: import escape
# expected: static
# why: imports an I/O function from numpy
from numpy import save


def compute_reward(state, action, next_state):
    save("/tmp/x.npy", next_state.obs)
    return next_state.obs[:, 0], {}
