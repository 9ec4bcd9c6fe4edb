import numpy as np


def compute_reward(state, action, next_state):
    forward = 2.665 * (next_state.forward_velocity)
    reward = forward
    components = {"forward": forward}
    return reward, components
