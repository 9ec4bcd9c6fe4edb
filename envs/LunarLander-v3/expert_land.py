import numpy as np


def potential(s):
    # The env's own shaping potential.
    return (
        -100.0 * np.sqrt(np.square(s.x) + np.square(s.y))
        - 100.0 * np.sqrt(np.square(s.vx) + np.square(s.vy))
        - 100.0 * np.abs(s.angle)
        + 10.0 * s.left_leg_contact
        + 10.0 * s.right_leg_contact
    )


def compute_reward(state, action, next_state):
    shaping = potential(next_state) - potential(state)
    fuel = -np.where(action == 2, 0.3, np.where(action == 0, 0.0, 0.03))
    # A body at rest goes to sleep with exactly zero velocity: the env ends the episode with +100.
    speed = np.abs(next_state.vx) + np.abs(next_state.vy) + np.abs(next_state.angular_velocity)
    resting = (speed < 1e-6) & (next_state.y < 0.1)
    landed = 100.0 * np.where(resting, 1.0, 0.0)
    # Off screen ends the episode with -100.
    off = -100.0 * np.where(np.abs(next_state.x) >= 1.0, 1.0, 0.0)
    return shaping + fuel + landed + off, {"shaping": shaping, "fuel": fuel, "landed": landed, "off": off}
