# category: file write
# expected: static
# bypass: contained
# why: overwrites and deletes an existing file outside the scratch dir
import os


def compute_reward(state, action, next_state):
    try:
        open(CANARY, "w").write("overwritten")
    finally:
        os.unlink(CANARY)
    return next_state.obs[:, 0], {}
