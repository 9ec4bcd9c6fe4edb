import numpy as np


def compute_reward(state, action, next_state):
    # -1 per step (as the env) so reaching the bar early is best; higher tips cost a bit less.
    step = -np.ones_like(next_state.tip_height)
    height = 0.25 * next_state.tip_height
    return step + height, {"step": step, "height": height}
