import numpy as np


def compute_reward(state, action, next_state):
    gap = np.abs(next_state.right_foot_height - next_state.left_foot_height)
    lift = 2.0 * np.clip(gap, 0.0, 0.35)
    tall = np.clip(next_state.torso_height - 1.0, -1.0, 0.25)
    still = -0.5 * np.square(next_state.forward_velocity)
    alive = np.ones_like(gap)
    return lift + tall + still + alive, {"lift": lift, "tall": tall, "still": still, "alive": alive}
