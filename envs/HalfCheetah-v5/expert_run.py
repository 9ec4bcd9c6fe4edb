import numpy as np


def compute_reward(state, action, next_state):
    forward = next_state.forward_velocity
    effort = -0.1 * np.sum(np.square(action), axis=1)
    return forward + effort, {"forward": forward, "effort": effort}
