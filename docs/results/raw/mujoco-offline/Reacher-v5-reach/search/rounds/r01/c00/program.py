import numpy as np


def compute_reward(state, action, next_state):
    near = 1.107 * (-next_state.distance)
    effort = 0.06063 * (-np.sum(np.square(action), axis=1))
    reward = near + effort
    components = {"near": near, "effort": effort}
    return reward, components
