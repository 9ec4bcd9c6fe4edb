"""Training: the reward VecEnv wrapper, the SB3 trainer, sandboxed workers and executors."""
