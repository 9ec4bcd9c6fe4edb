import numpy as np


def compute_reward(state, action, next_state):
    alive = 10.0 * np.ones_like(next_state.tip_height)
    tall = -np.square(next_state.tip_height - 2.0)
    centred = -0.01 * np.square(next_state.tip_x)
    return alive + tall + centred, {"alive": alive, "tall": tall, "centred": centred}
