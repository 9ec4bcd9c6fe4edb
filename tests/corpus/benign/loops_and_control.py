# benign: a small for loop with continue/break, conditional expressions, pow and ** with small
# exponents, integer and float arithmetic, augmented assignment on locals, del
import numpy as np


def compute_reward(state, action, next_state):
    total = np.zeros(len(next_state.obs))
    components = {}
    for i in range(4):
        if i == 1:
            continue
        term = -(0.5 ** i) * pow(np.abs(next_state.obs[:, i]), 2)
        components[f"term_{i}"] = term
        total += term
        if len(components) >= 3:
            break
    scale = 2.0 if total.size > 1 else 1.0
    bonus = scale * np.ones_like(total) * 2 ** -3
    tmp = bonus * 1
    del tmp
    components["bonus"] = bonus
    return total + bonus, components
