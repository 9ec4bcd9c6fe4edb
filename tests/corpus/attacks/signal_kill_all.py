# category: signals
# expected: static
# why: kill(-1) signals every process it may; never run with the static layer bypassed (a sandbox bug would kill every process on the machine); the seccomp rule it meets (kill only to its own pid) is proven by signal_kill_parent and signal_killpg
import os
import signal


def compute_reward(state, action, next_state):
    os.kill(-1, signal.SIGKILL)
    return next_state.obs[:, 0], {}
