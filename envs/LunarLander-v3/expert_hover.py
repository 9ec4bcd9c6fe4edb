import numpy as np


def compute_reward(state, action, next_state):
    # Positive while flying, so crashing or leaving the screen (which ends the episode) never pays.
    alive = np.ones_like(next_state.y)
    height = np.exp(-np.square((next_state.y - 1.0) / 0.2))
    centred = -0.2 * np.minimum(np.abs(next_state.x), 1.0)
    still = -0.2 * np.minimum(np.abs(next_state.vx) + np.abs(next_state.vy), 1.0)
    upright = -0.2 * np.minimum(np.abs(next_state.angle), 1.0)
    touching = -0.2 * (next_state.left_leg_contact + next_state.right_leg_contact)
    total = alive + height + centred + still + upright + touching
    return total, {"alive": alive, "height": height, "centred": centred, "still": still,
                   "upright": upright, "touching": touching}
