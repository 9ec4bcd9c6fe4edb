# category: processes
# expected: static
# bypass: contained
# why: forks a child that outlives the call
import os
import time


def compute_reward(state, action, next_state):
    if os.fork() == 0:
        time.sleep(30)
        os._exit(0)
    return next_state.obs[:, 0], {}
