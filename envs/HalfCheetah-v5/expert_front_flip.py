import numpy as np


def compute_reward(state, action, next_state):
    spin = np.clip(next_state.pitch_rate, -10.0, 10.0)
    lift = 0.5 * np.clip(next_state.torso_height, 0.0, 1.5)
    effort = -0.05 * np.sum(np.square(action), axis=1)
    return spin + lift + effort, {"spin": spin, "lift": lift, "effort": effort}
