# category: processes
# expected: static
# bypass: contained
# why: replaces the worker with a shell
import os


def compute_reward(state, action, next_state):
    os.execv("/bin/sh", ["sh", "-c", "touch " + OUTSIDE + "/exec.txt"])
