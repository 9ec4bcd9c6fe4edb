# category: import escape
# expected: static
# why: imports a numpy submodule with I/O
import numpy.lib.format as fmt


def compute_reward(state, action, next_state):
    return fmt, {}
