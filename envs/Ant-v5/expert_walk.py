import numpy as np


def compute_reward(state, action, next_state):
    forward = next_state.torso_velocity[:, 0]
    alive = np.ones_like(forward)
    effort = -0.5 * np.sum(np.square(action), axis=1)
    return forward + alive + effort, {"forward": forward, "alive": alive, "effort": effort}
