import numpy as np


def compute_reward(state, action, next_state):
    forward = 0.7618 * (next_state.forward_velocity)
    effort = 0.1684 * (-np.sum(np.square(action), axis=1))
    level = 0.1497 * (-np.square(next_state.torso_pitch))
    reward = forward + effort + level
    components = {"forward": forward, "effort": effort, "level": level}
    return reward, components
