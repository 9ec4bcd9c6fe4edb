import numpy as np


def compute_reward(state, action, next_state):
    near = 1 * (-next_state.distance)
    reward = near
    components = {"near": near}
    return reward, components
