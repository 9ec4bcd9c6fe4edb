# category: file write
# expected: static
# bypass: contained
# why: creates a file directly in /tmp, outside the worker's scratch dir
import pathlib


def compute_reward(state, action, next_state):
    pathlib.Path(TMP_TARGET).write_text("pwned")
    return next_state.obs[:, 0], {}
