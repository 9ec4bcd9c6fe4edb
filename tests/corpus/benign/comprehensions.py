# benign: list, set and dict comprehensions, generator expressions, enumerate and zip
import numpy as np

NAMES = ("cart_position", "cart_velocity", "pole_angle", "pole_angular_velocity")
WEIGHTS = (0.1, 0.01, 1.0, 0.05)


def compute_reward(state, action, next_state):
    columns = [next_state.obs[:, i] for i in range(len(NAMES))]
    penalties = {f"{name}_penalty": -w * np.square(col)
                 for name, w, col in zip(NAMES, WEIGHTS, columns)}
    unique = {round(w, 2) for w in WEIGHTS}
    bonus = sum(0.25 * np.ones_like(columns[0]) for _ in unique)
    ordered = sorted(penalties.items())
    total = bonus + sum(v for _, v in ordered)
    components = dict(ordered)
    components["bonus"] = bonus
    for i, name in enumerate(list(components)):
        if i > 10:
            break
    return total, components
