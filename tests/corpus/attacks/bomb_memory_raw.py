# category: memory bomb
# expected: runtime
# bypass: contained
# why: allocates 64 GB without numpy: bytearray is not in the surface (NameError); bypassed, the address-space limit gives MemoryError
def compute_reward(state, action, next_state):
    hog = bytearray(64 * 2**30)
    return next_state.obs[:, 0], {}
