import numpy as np

K = 0.0025 / 3.0


def energy(s):
    return 0.5 * np.square(s.velocity) + K * np.sin(3.0 * s.position)


def compute_reward(state, action, next_state):
    # Pump energy by pushing along the motion; a bonus on reaching the flag.
    pump = 1000.0 * (energy(next_state) - energy(state))
    goal = 10.0 * np.where(next_state.position >= 0.45, 1.0, 0.0)
    effort = -0.01 * np.square(action[:, 0])
    return pump + goal + effort, {"pump": pump, "goal": goal, "effort": effort}
