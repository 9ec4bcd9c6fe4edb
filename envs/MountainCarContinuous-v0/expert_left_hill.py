import numpy as np

K = 0.0025 / 3.0


def energy(s):
    return 0.5 * np.square(s.velocity) + K * np.sin(3.0 * s.position)


def compute_reward(state, action, next_state):
    # Pump energy, and reward touching the left wall; the flag on the right is not the goal.
    pump = 1000.0 * (energy(next_state) - energy(state))
    wall = 10.0 * np.where(next_state.position <= -1.19, 1.0, 0.0)
    right_penalty = -10.0 * np.where(next_state.position >= 0.45, 1.0, 0.0)
    return pump + wall + right_penalty, {"pump": pump, "wall": wall, "right_penalty": right_penalty}
