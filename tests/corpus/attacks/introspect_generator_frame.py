# category: introspection escape
# expected: static
# why: generator frames lead to the caller's frame and globals
import numpy as np


def compute_reward(state, action, next_state):
    g = (x for x in [0])
    outer = g.gi_frame.f_back.f_globals
    return next_state.obs[:, 0], {}
