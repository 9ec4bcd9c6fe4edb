# category: import escape
# expected: static
# why: relative import
from . import worker


def compute_reward(state, action, next_state):
    return worker, {}
