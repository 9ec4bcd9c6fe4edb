# category: introspection escape
# expected: static
# why: walks from a tuple to object's subclasses
import numpy as np


def compute_reward(state, action, next_state):
    classes = ().__class__.__bases__[0].__subclasses__()
    return np.ones(len(next_state.obs)) * len(classes), {}
