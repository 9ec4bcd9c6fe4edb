import numpy as np


def compute_reward(state, action, next_state):
    # Reward counter-clockwise angular velocity (positive = counter-clockwise).
    spin = next_state.angular_velocity / 8.0
    return spin, {"spin": spin}
