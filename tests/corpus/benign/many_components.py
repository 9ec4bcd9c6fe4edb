# benign: many weighted components combined by a dict comprehension and sum
import numpy as np

WEIGHTS = {"upright": 1.0, "centred": 0.2, "still": 0.05, "calm": 0.05, "alive": 0.1,
           "inside": 0.3, "slow_cart": 0.02, "small_angle": 0.5}


def compute_reward(state, action, next_state):
    raw = {
        "upright": np.cos(next_state.pole_angle),
        "centred": -np.square(next_state.cart_position),
        "still": -np.square(next_state.cart_velocity),
        "calm": -np.square(next_state.pole_angular_velocity),
        "alive": np.ones_like(next_state.pole_angle),
        "inside": (np.abs(next_state.cart_position) < 2.0).astype(np.float64),
        "slow_cart": -np.abs(next_state.cart_velocity),
        "small_angle": -np.abs(next_state.pole_angle),
    }
    components = {name: WEIGHTS[name] * value for name, value in raw.items()}
    total = sum(components.values())
    return total, components
