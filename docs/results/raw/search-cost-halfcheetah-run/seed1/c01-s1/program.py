import numpy as np


def compute_reward(state, action, next_state):
    forward = 1 * (next_state.forward_velocity)
    effort = 0.1054 * (-np.sum(np.square(action), axis=1))
    reward = forward + effort
    components = {"forward": forward, "effort": effort}
    return reward, components
