# category: infinite loop
# expected: timeout
# why: an endless loop passes the static layer (while loops are allowed); the worker is killed at its time limit
import numpy as np


def compute_reward(state, action, next_state):
    while True:
        pass
