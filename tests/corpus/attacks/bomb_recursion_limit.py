# category: recursion bomb
# expected: static
# bypass: contained
# why: raises the recursion limit to crash the interpreter's C stack: contained as a dead worker
import sys


def compute_reward(state, action, next_state):
    sys.setrecursionlimit(10**7)

    def deeper(n):
        return deeper(n + 1) + 1

    return deeper(0), {}
