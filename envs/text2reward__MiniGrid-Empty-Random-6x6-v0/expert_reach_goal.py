import numpy as np


def compute_reward(state, action, next_state):
    progress = state.goal_distance - next_state.goal_distance
    arrive = 5.0 * (next_state.goal_distance == 0).astype(np.float64)
    time = -0.01 * np.ones_like(progress)
    return progress + arrive + time, {"progress": progress, "arrive": arrive, "time": time}
