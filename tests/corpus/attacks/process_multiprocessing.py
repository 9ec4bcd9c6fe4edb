# category: processes
# expected: static
# bypass: contained
# why: starts a multiprocessing child
import multiprocessing


def compute_reward(state, action, next_state):
    p = multiprocessing.Process(target=print)
    p.start()
    return next_state.obs[:, 0], {}
