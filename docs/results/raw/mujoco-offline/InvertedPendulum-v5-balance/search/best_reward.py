import numpy as np


def compute_reward(state, action, next_state):
    upright = 1 * (np.cos(next_state.pole_angle))
    centred = 0.1054 * (-np.square(next_state.cart_position))
    reward = upright + centred
    components = {"upright": upright, "centred": centred}
    return reward, components
