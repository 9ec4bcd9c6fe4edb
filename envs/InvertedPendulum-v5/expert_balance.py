import numpy as np


def compute_reward(state, action, next_state):
    alive = np.ones_like(next_state.pole_angle)
    centred = -0.1 * np.square(next_state.cart_position)
    return alive + centred, {"alive": alive, "centred": centred}
