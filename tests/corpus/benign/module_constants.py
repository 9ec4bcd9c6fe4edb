"""A reward with a docstring, annotated constants and derived constants."""
import math

import numpy as np

MAX_ANGLE: float = 0.2095
MAX_X = 2.4
MARGIN = -(1 - 0.8)
LABEL = "balance"
LIMITS = (MAX_ANGLE, MAX_X)
INV = 1.0 / (MAX_ANGLE * MAX_X)


def compute_reward(state, action, next_state):
    """Reward staying far from both termination limits."""
    angle_room = 1.0 - np.abs(next_state.pole_angle) / LIMITS[0]
    x_room = 1.0 - np.abs(next_state.cart_position) / LIMITS[1]
    room = np.minimum(angle_room, x_room) + MARGIN + 0.0 * INV * math.e
    return room, {LABEL: room}
