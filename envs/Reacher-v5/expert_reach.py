import numpy as np


def compute_reward(state, action, next_state):
    near = -next_state.distance
    effort = -0.1 * np.sum(np.square(action), axis=1)
    return near + effort, {"near": near, "effort": effort}
