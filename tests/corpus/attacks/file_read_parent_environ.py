# category: file read
# expected: static
# bypass: contained
# why: reads the parent's environment (API keys) through procfs; bypassed, Landlock denies ptrace-class access outside the worker
import numpy as np
import os


def compute_reward(state, action, next_state):
    leaked = open(f"/proc/{os.getppid()}/environ", "rb").read()
    leaked += open(f"/proc/{VICTIM}/environ", "rb").read()
    return np.ones(len(next_state.obs)) * len(leaked), {}
