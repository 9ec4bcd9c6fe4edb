# benign: stacking, sorting, cumulative sums, argmax and take along the batch
import numpy as np


def compute_reward(state, action, next_state):
    feats = np.stack([np.abs(next_state.pole_angle), np.abs(next_state.cart_position) / 10.0], axis=1)
    worst = np.max(feats, axis=1)
    order = np.argsort(feats, axis=1)
    ranked = np.sort(feats, axis=1)
    smooth = np.cumsum(ranked, axis=1)[:, -1]
    which = np.argmax(feats, axis=1).astype(np.float64)
    total = 1.0 - worst - 0.1 * smooth + 0.0 * which + 0.0 * order[:, 0]
    return total, {"worst": -worst, "smooth": -0.1 * smooth}
