# category: introspection escape
# expected: static
# why: executing compiled code
import numpy as np


def compute_reward(state, action, next_state):
    exec(compile("import os", "x", "exec"))
    return next_state.obs[:, 0], {}
