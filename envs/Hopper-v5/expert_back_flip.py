import numpy as np


def compute_reward(state, action, next_state):
    spin = -np.clip(next_state.pitch_rate, -10.0, 10.0)
    height = np.clip(next_state.torso_height, 0.0, 2.0)
    effort = -0.001 * np.sum(np.square(action), axis=1)
    return spin + height + effort, {"spin": spin, "height": height, "effort": effort}
