import numpy as np


def compute_reward(state, action, next_state):
    alive = 1 * (np.ones_like(next_state.tip_height))
    tall = 1.054 * (next_state.tip_height)
    centred = 0.1 * (-np.square(next_state.tip_x))
    reward = alive + tall + centred
    components = {"alive": alive, "tall": tall, "centred": centred}
    return reward, components
