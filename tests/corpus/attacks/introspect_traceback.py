# category: introspection escape
# expected: static
# why: tracebacks lead to frames
import numpy as np


def compute_reward(state, action, next_state):
    try:
        1 / 0
    except ZeroDivisionError as exc:
        frame = exc.__traceback__.tb_frame
    return next_state.obs[:, 0], {}
