import numpy as np


def compute_reward(state, action, next_state):
    forward = 1 * (next_state.torso_velocity[:, 0])
    alive = 1 * (np.ones_like(next_state.torso_height))
    effort = 0.5 * (-np.sum(np.square(action), axis=1))
    reward = forward + alive + effort
    components = {"forward": forward, "alive": alive, "effort": effort}
    return reward, components
