import numpy as np


def compute_reward(state, action, next_state):
    # The env's own cost: angle from upright, speed and torque, all penalised quadratically.
    angle = -np.square(next_state.angle)
    speed = -0.1 * np.square(next_state.angular_velocity)
    effort = -0.001 * np.square(action[:, 0])
    return angle + speed + effort, {"angle": angle, "speed": speed, "effort": effort}
