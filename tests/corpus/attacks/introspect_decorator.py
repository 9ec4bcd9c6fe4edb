# category: introspection escape
# expected: static
# why: decorators run arbitrary callables at definition time
import numpy as np


def wrap(f):
    return f


@wrap
def compute_reward(state, action, next_state):
    return next_state.obs[:, 0], {}
