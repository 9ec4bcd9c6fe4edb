# category: file write
# expected: static
# bypass: contained
# why: changes permissions of a file outside the scratch dir (Landlock does not cover chmod; seccomp does)
import os


def compute_reward(state, action, next_state):
    os.chmod(CANARY, 0o777)
    return next_state.obs[:, 0], {}
