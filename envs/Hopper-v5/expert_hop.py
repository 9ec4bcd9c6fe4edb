import numpy as np


def compute_reward(state, action, next_state):
    forward = next_state.forward_velocity
    alive = np.ones_like(forward)
    effort = -0.001 * np.sum(np.square(action), axis=1)
    return forward + alive + effort, {"forward": forward, "alive": alive, "effort": effort}
