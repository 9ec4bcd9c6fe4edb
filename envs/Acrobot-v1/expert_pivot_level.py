import numpy as np


def compute_reward(state, action, next_state):
    h = next_state.tip_height
    # Non-negative while safe, so the agent never wants the episode to end early.
    above = np.where(h > 0.0, 1.0, 0.0)
    shaping = 0.1 * (h + 2.0) / 4.0
    # Crossing the bar (h > 1) ends the episode: stay clearly below it.
    near_bar = -10.0 * np.where(h > 0.8, 1.0, 0.0)
    return above + shaping + near_bar, {"above": above, "shaping": shaping, "near_bar": near_bar}
