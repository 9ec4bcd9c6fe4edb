# benign: nested np.where chains, boolean masks, np.select-free piecewise rewards
import numpy as np


def compute_reward(state, action, next_state):
    angle = np.abs(next_state.pole_angle)
    x = np.abs(next_state.cart_position)
    tier = np.where(angle < 0.02, 2.0, np.where(angle < 0.05, 1.0, np.where(angle < 0.1, 0.5, 0.0)))
    safe = np.logical_and(x < 1.0, angle < 0.15)
    bonus = np.where(safe, 0.5, -0.5)
    penalty = np.where((x > 2.0) | (angle > 0.18), -1.0, 0.0)
    return tier + bonus + penalty, {"tier": tier, "bonus": bonus, "penalty": penalty}
