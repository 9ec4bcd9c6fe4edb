import numpy as np


def compute_reward(state, action, next_state):
    backward = -next_state.forward_velocity
    upright = -0.5 * np.square(np.sin(next_state.torso_pitch))
    effort = -0.1 * np.sum(np.square(action), axis=1)
    return backward + upright + effort, {"backward": backward, "upright": upright, "effort": effort}
