# category: import escape
# expected: static
# why: imports importlib
import importlib


def compute_reward(state, action, next_state):
    return importlib.import_module("os").getpid(), {}
