# category: processes
# expected: static
# bypass: contained
# why: a thread that keeps running after the call (threads are allowed, so it stays inside the sandbox)
import threading


def compute_reward(state, action, next_state):
    threading.Thread(target=lambda: open(OUTSIDE + "/thread.txt", "w"), daemon=True).start()
    return next_state.obs[:, 0], {}
