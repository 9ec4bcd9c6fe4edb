import numpy as np


def compute_reward(state, action, next_state):
    near = -next_state.goal_distance
    close = np.exp(-next_state.goal_distance / 0.05)
    return near + close, {"near": near, "close": close}
